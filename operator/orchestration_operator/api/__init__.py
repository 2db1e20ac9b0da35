"""Custom resource models (pydantic) and condition constants. No kopf, no httpx.

The contract of the four kinds (group ``drupal-orchestration.io``, version ``v1alpha1``):

* ``connection``, ``webhook``, ``servicerun``, ``eventpoll``: spec and status models of each kind, the
  whole-object model, and its :class:`~orchestration_operator.api.names.Kind` record (``KIND``);
* ``kinds``: the four records together; ``names``: group, version, annotations, finalizer, columns;
* ``base``, ``fields``, ``refs``, ``retrying``, ``status``: the building blocks the kinds share;
* ``conditions``: condition types, documented reasons, and pure helpers that set conditions;
* ``durations``: ``30s`` / ``5m`` / ``1h30m`` strings; ``validation``: raw spec -> model or ``InvalidSpec``;
* ``crdgen``: generates ``crds/`` from the models (``python -m orchestration_operator.api.crdgen``).

Reconcile code and handlers import these modules; this package imports nothing of the operator's.
"""
