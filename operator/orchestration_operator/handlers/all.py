"""Every kopf handler of the operator; ``orchestration-operator run`` imports this module."""

from orchestration_operator.handlers import connection, eventpoll, loops, runtime, servicerun, shared, webhook

__all__ = ["connection", "eventpoll", "loops", "runtime", "servicerun", "shared", "webhook"]
