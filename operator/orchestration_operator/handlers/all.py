"""Every kopf handler of the operator; ``orchestration-operator run`` imports this module."""

from orchestration_operator.handlers import runtime, servicerun, shared

__all__ = ["runtime", "servicerun", "shared"]
