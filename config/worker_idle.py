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

What is left wakes the parent about every 10 s: kombu's unacked-restore timer (which asks
Redis on every tenth call) and the liveness file (config/worker_heartbeat.py). The event
heartbeat's pace is only a default: ``--heartbeat-interval`` on the command line still
wins. Free of Django imports at module level, like config/worker_heartbeat.py.
"""

from typing import Any

from celery import bootsteps
from celery.worker import WorkController

EVENT_HEARTBEAT_SECONDS = 30.0
BROKER_BLOCKING_POP_SECONDS = 20
POOL_MAINTENANCE_SECONDS = 30.0


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
        # Also a class attribute (a property), read when the pool joins the event loop.
        from celery.concurrency import asynpool

        asynpool.AsynPool.timers = property(lambda pool: {pool.maintain_pool: POOL_MAINTENANCE_SECONDS})
        super().__init__(worker, **kwargs)
