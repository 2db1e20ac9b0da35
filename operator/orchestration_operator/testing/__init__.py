"""Public test toolkit: the Drupal Orchestration API emulator and the Kubernetes API sandbox.

Test and local-trial tools only: production talks to a real Drupal site and a real cluster. Needs the
``testing`` extra (aiohttp, cel-python).
"""
