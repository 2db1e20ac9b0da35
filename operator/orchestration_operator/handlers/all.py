"""Every kopf handler of the operator; ``orchestration-operator run`` imports this module.

It also holds the one cleanup activity, so that shutdown happens in order: kopf has already let its
handlers in flight finish and stopped the daemons; then ServiceRun wake-ups in flight finish (they may be
in the middle of an execute call), then the sinks' HTTP client and last the sites' clients are closed.
"""

from typing import Any

import kopf

from orchestration_operator.handlers import connection, eventpoll, loops, runtime, servicerun, shared, webhook

__all__ = ["connection", "eventpoll", "loops", "runtime", "servicerun", "shared", "shutdown", "webhook"]


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any) -> None:
    # kopf's own handlers had up to exit_timeout since SIGTERM; the wake-ups share that budget.
    await servicerun.stop(memo, grace=shared.lifecycle_of(memo).remaining(settings.queueing.exit_timeout))
    await eventpoll.close(memo)
    await shared.close(memo)
