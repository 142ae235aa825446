from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its UTC offset: naive input is refused, not guessed
    (DRF would silently read it in the server's zone)."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2026-01-31T18:00:00Z or 2026-01-31T19:00:00+01:00.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # out-of-range parts: let DRF word the error
        if parsed is not None and (parsed.tzinfo is None or parsed.utcoffset() is None):
            self.fail("naive")
        return super().to_internal_value(value)
