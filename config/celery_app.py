"""The Celery application: ``celery -A config worker|beat|flower``."""

import logging
import os
from typing import Any

from celery import Celery, signals

from config.masking import ContactDataFilter
from config.worker_heartbeat import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(WorkerHeartbeat)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def mask_contact_data(logger: logging.Logger, **_: Any) -> None:
    """Celery replaces the root logger's handlers (and gives task loggers their own), so
    the filter settings.LOGGING put on the console handler is gone: put it on these."""
    for handler in logger.handlers:
        if not any(isinstance(f, ContactDataFilter) for f in handler.filters):
            handler.addFilter(ContactDataFilter())
