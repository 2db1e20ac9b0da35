"""An in-process Kubernetes API server for tests and local trials only; production is a real cluster.

No kube-apiserver can run on the machines this project is built on, so the operator is tested end to end
against this sandbox, which unmodified kopf and the real kubectl accept as a cluster:

- ``server.KubeSandbox``: the aiohttp server (``start``/``stop``, ``url``, ``write_kubeconfig``,
  ``add_token``) and direct, thread-safe access to its objects for tests (``get_object``,
  ``patch_object``, ``wait_for_object``, ``close_watches``, ``compact``, ...);
- ``store`` (objects and write semantics), ``watch`` (watch streams), ``discovery`` and ``openapi``
  (what clients read first), ``tables`` and ``jsonpath`` (``kubectl get``), ``patching``,
  ``selectors``, ``admission`` with ``schema``, ``cel`` (CRD schemas and rules) and ``protobuf``,
  ``kinds`` and ``gc`` (what built-in controllers do), ``auth`` and ``faults``;
- ``fixtures`` (pytest plugin: ``kube_sandbox``, ``kube_kubeconfig``, ``kubectl``, ``kopf_operator``),
  ``kubectl`` and ``process`` (the real kubectl, kopf and the sandbox as processes), ``samples`` (a test
  CRD), ``manifests`` and ``bench``.

``orchestration-operator sandbox`` serves it from the command line.
"""
