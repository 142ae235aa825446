"""The Celery worker's liveness heartbeat (config/heartbeat.py explains the probe).

A worker bootstep, added to the app in ``config/celery_app.py``. Its timer entry runs on
the worker's event loop (the hub), the loop that takes messages and hands them to the
pool, so the file goes stale when that loop stops, while pool children busy with fire
tasks do not delay it. Free of Django imports at module level: the Celery app loads it
before Django is set up.
"""

import logging
from typing import Any

from celery import bootsteps
from celery.worker import WorkController
from kombu.asynchronous.timer import Entry

from config.heartbeat import Heartbeat

logger = logging.getLogger(__name__)

# The probe allows 120 s (the chart's worker.heartbeatMaxAgeSeconds); every 10 s cost an idle
# worker 360 of its wakes an hour (issue 15).
HEARTBEAT_INTERVAL_SECONDS = 30.0


class WorkerHeartbeat(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: WorkController, **kwargs: Any) -> None:
        from django.conf import settings  # configured by the time the worker builds its steps

        self.heartbeat = Heartbeat(role="worker", directory=settings.NOTIFIER_HEARTBEAT_DIR)
        self.timer_entry: Entry | None = None
        super().__init__(worker, **kwargs)

    def start(self, worker: WorkController) -> None:
        if not worker.use_eventloop:
            # solo/threads pools and eventlet run the timer on a thread of its own: the
            # file then shows the process is alive, not that it still takes messages.
            logger.warning("worker heartbeat: this pool has no event loop; the heartbeat only shows the process lives")
        self.heartbeat.start()
        self.timer_entry = worker.timer.call_repeatedly(HEARTBEAT_INTERVAL_SECONDS, self.heartbeat.beat)

    def stop(self, worker: WorkController) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
