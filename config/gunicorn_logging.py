"""gunicorn's logger with the contact-data filter (issue 13).

gunicorn writes its access and error logs through handlers of its own, not through
settings.LOGGING: a request line carries its query string (an admin search for an
address, ``?q=alice@example.com``), so those handlers mask too."""

from typing import Any

from gunicorn.glogging import Logger

from config.masking import ContactDataFilter


class ContactDataLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, ContactDataFilter) for f in handler.filters):
                    handler.addFilter(ContactDataFilter())
