"""django-celery-beat's DatabaseScheduler with a liveness heartbeat on every tick.

Beat calls ``tick()`` at least every 5 s (the DatabaseScheduler's longest sleep), so a
heartbeat file older than a minute means beat's loop is stuck or gone
(config/heartbeat.py explains the probe).
"""

from typing import Any

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from config.heartbeat import Heartbeat


class HeartbeatScheduler(DatabaseScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeat = Heartbeat(role="beat", directory=settings.NOTIFIER_HEARTBEAT_DIR)
        self.heartbeat.start()
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.heartbeat.beat()
        return super().tick(*args, **kwargs)
