"""Serializer and filter fields every app's API shares. Each refuses bad input with a 400
before it reaches PostgreSQL, which would answer it with an error (NUL in text, a UTC
offset or a date out of its range) that is not the client's to see."""

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Model
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from config.utc import offset_in_range

OFFSET_MESSAGE = "The UTC offset must lie between -14:00 and +14:00."
OVERFLOW_MESSAGE = "The date is out of range once converted to UTC."

# PostgreSQL text cannot hold NUL (0x00); DRF's CharField and Django's form fields refuse
# it already, this serves the fields that do not (lookups by slug).
reject_nul = ProhibitNullCharactersValidator()


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its UTC offset: naive input is refused, not guessed
    (DRF would silently read it in the server's zone). An offset beyond any real zone's
    is refused too; the value is returned in UTC."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2026-01-31T18:00:00Z or 2026-01-31T19:00:00+01:00.",
        "offset": OFFSET_MESSAGE,
        "overflow": OVERFLOW_MESSAGE,
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
        if parsed is not None and not offset_in_range(parsed):
            self.fail("offset")
        return super().to_internal_value(value)


class UtcDateTimeFormField(forms.DateTimeField):
    """An ISO 8601 query parameter, in UTC before it reaches the database. A naive value
    is read in UTC (``TIME_ZONE``), as before."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", [])  # ISO 8601 only (parse_datetime below)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and not offset_in_range(parsed):
                raise ValidationError(OFFSET_MESSAGE, code="offset")
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00:00+05:00 lies before year 1 in UTC
            raise ValidationError(OVERFLOW_MESSAGE, code="overflow") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeFormField


class SlugLookupField(serializers.SlugRelatedField):
    """A related object named by its slug; a value that cannot be a stored slug (NUL)
    is refused as invalid, not looked up."""

    def to_internal_value(self, data: Any) -> Model:
        if isinstance(data, str):
            try:
                reject_nul(data)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return super().to_internal_value(data)
