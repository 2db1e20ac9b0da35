"""orchestration-operator: drive a Drupal site's Orchestration API from Kubernetes custom resources.

Layers (enforced by import-linter, see pyproject.toml):
``handlers`` (kopf) -> ``reconcile`` (domain logic) -> ``api`` (models) | ``client`` (httpx).
``testing`` is the public test toolkit (Drupal emulator, Kubernetes API sandbox); the operator never
imports it.
"""

__version__ = "0.1.0"
