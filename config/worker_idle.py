"""What an idle worker wakes up for (issue 15, docs/decisions/0019).

Measured on an idle worker (1 process x 4 children, 240 s): Celery's defaults cost
6.2 CPU seconds an hour, most of it loops that do nothing useful at their pace:

* the ``worker-heartbeat`` event every 2 s (serialised and published to Redis, read back
  by every other worker's gossip): every 30 s here. Flower and ``celery events`` take a
  worker for offline after twice the interval the event itself announces, so they still
  show it right, a minute after it is gone instead of four seconds;
* kombu's BRPOP on the task queues, re-issued every second when nothing comes: every
  20 s here. A task still arrives the moment it is pushed (BRPOP returns then); the
  timeout only decides how often an empty wait is renewed. Kept under redis-py's 25-s
  health check, which would put a PING before every renewal;
* gossip: every 5 s it looks over the other workers, and it reads every worker's event
  heartbeat. It serves leader elections and the hooks that watch workers join and leave,
  none of which this engine uses (it revokes nothing; reconcile finds lost tasks), so it
  is off, as ``--without-gossip`` would set it;
* the prefork pool's maintenance every 5 s, the safety net behind the parent's watch on
  each child's exit (a killed child is replaced the moment it exits): every 30 s here.

* kombu's unacked-restore timer, every 10 s (it asks Redis on every tenth call, so about
  every 100 s): every 30 s here, so Redis is asked about every 300 s. It gives back the
  messages of a worker that died holding them once their visibility timeout has passed
  (the arm horizon plus 10 minutes); the arm pass's reconcile re-sends a lost task long
  before that, 15 s after its due time, so this only decides when the stale copy comes
  back to be found already sent. kombu fixes the 10 s in its transport's
  ``register_with_event_loop``: the transport is handed a view of the loop that schedules
  that one timer at 30 s.

What is left wakes the parent at least every 10 s all the same: kombu's event loop never
sleeps longer (``Hub.fire_timers``' ``max_delay``), and each wake costs about half a
millisecond of CPU (decision 0023). The event heartbeat's pace is only a default:
``--heartbeat-interval`` on the command line still wins. Free of Django imports at module
level, like config/worker_heartbeat.py.
"""

from collections.abc import Callable
from typing import Any

from celery import bootsteps
from celery.worker import WorkController

EVENT_HEARTBEAT_SECONDS = 30.0
BROKER_BLOCKING_POP_SECONDS = 20
POOL_MAINTENANCE_SECONDS = 30.0
UNACKED_RESTORE_SECONDS = 30.0


class RestorePacedLoop:
    """The worker's event loop as kombu's Redis transport sees it when it joins: the same
    loop, with the unacked-restore timer at UNACKED_RESTORE_SECONDS."""

    def __init__(self, loop: Any) -> None:
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def call_repeatedly(self, seconds: float, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(fun, "__name__", "") == "maybe_restore_messages":
            seconds = UNACKED_RESTORE_SECONDS
        return self._loop.call_repeatedly(seconds, fun, *args, **kwargs)


def _restore_paced(register: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(register, "restore_paced", False):
        return register

    def register_with_event_loop(transport: Any, connection: Any, loop: Any) -> Any:
        return register(transport, connection, RestorePacedLoop(loop))

    register_with_event_loop.restore_paced = True  # type: ignore[attr-defined]
    return register_with_event_loop


class QuietIdleWorker(bootsteps.Step):
    """Runs when the worker builds its steps, before the consumer reads its options and
    before the broker connection is made."""

    def __init__(self, worker: WorkController, **kwargs: Any) -> None:
        if worker.options.get("heartbeat_interval") is None:
            worker.options["heartbeat_interval"] = EVENT_HEARTBEAT_SECONDS
        worker.options["without_gossip"] = True
        # A class attribute: kombu offers no option for the BRPOP timeout alone (its
        # ``polling_interval`` transport option sets it, and also makes every blocking
        # consumer sleep that long between empty polls: Flower, ``celery inspect``).
        # Only this process, the worker, changes it.
        from kombu.transport import redis as redis_transport

        redis_transport.Transport.brpop_timeout = BROKER_BLOCKING_POP_SECONDS
        transport = redis_transport.Transport
        transport.register_with_event_loop = _restore_paced(transport.register_with_event_loop)
        # Also a class attribute (a property), read when the pool joins the event loop.
        from celery.concurrency import asynpool

        asynpool.AsynPool.timers = property(lambda pool: {pool.maintain_pool: POOL_MAINTENANCE_SECONDS})
        super().__init__(worker, **kwargs)
