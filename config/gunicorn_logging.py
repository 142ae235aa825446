"""gunicorn's logger with the contact-data filter (issue 13).

gunicorn writes its access and error logs through handlers of its own, not through
settings.LOGGING: a request line carries its query string (an admin search for an
address, ``?q=alice@example.com``), so those handlers mask too, and with
``NOTIFIER_LOG_FORMAT=json`` write JSON lines like every other process."""

import os
from typing import Any

from gunicorn.glogging import Logger

from config.json_logging import JsonFormatter
from config.masking import ContactDataFilter


class ContactDataLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # The environment, not Django's settings: gunicorn's master logs before (and
        # without) loading Django. config/settings.py validates the same variable.
        json_logs = os.environ.get("NOTIFIER_LOG_FORMAT", "text").strip().lower() == "json"
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, ContactDataFilter) for f in handler.filters):
                    handler.addFilter(ContactDataFilter())
                if json_logs:
                    handler.setFormatter(JsonFormatter())
