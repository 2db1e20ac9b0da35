"""Every kopf handler of the operator; ``orchestration-operator run`` imports this module."""

from orchestration_operator.handlers import eventpoll, runtime, shared

__all__ = ["eventpoll", "runtime", "shared"]
