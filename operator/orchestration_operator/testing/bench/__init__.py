"""Benchmarks of the operator against the test toolkit (``orchestration-operator bench``; never in the suite).

Every moving part runs in its own process so that the operator's figures are its own: the Kubernetes
API sandbox (``sandboxproc``), the Drupal emulator, the operator (``orchestration-operator run``), and
the driver that creates objects and watches them (this process). ``processes`` starts them;
``servicerun`` is the ServiceRun benchmark, ``eventpoll`` the EventPoll one.
"""
