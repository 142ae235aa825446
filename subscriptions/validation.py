"""What a valid endpoint is, per channel."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from subscriptions.models import Channel

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_email = EmailValidator(message="Enter a valid email address.")
_https_url = URLValidator(schemes=["https"], message="Enter an https:// URL.")


def _check_email(value: str) -> str:
    _email(value)
    return value.lower()


def _check_sms(value: str) -> str:
    compact = re.sub(r"[\s\-().]", "", value)
    if not E164.match(compact):
        raise ValidationError("Enter the number in E.164 form, e.g. +447700900123.")
    return compact


def _check_push(value: str) -> str:
    if not value or len(value) > 2048:
        raise ValidationError("Enter the device token (1-2048 characters).")
    return value


def _check_webhook(value: str) -> str:
    _https_url(value)
    return value


def _check_in_app(value: str) -> str:
    if value:
        raise ValidationError("In-app subscriptions take no endpoint; leave it empty.")
    return ""


_CHECKS = {
    Channel.EMAIL: _check_email,
    Channel.SMS: _check_sms,
    Channel.PUSH: _check_push,
    Channel.WEBHOOK: _check_webhook,
    Channel.IN_APP: _check_in_app,
}


def normalize_endpoint(channel: str, endpoint: str) -> str:
    """Return the endpoint in canonical form, or raise ValidationError({"endpoint": ...})."""
    check = _CHECKS.get(channel)
    if check is None:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    try:
        return check((endpoint or "").strip())
    except ValidationError as exc:
        raise ValidationError({"endpoint": exc.messages}) from exc
