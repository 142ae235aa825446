"""What a valid endpoint is: each channel's adapter says (``subscriptions.channels``)."""

from django.core.exceptions import ValidationError

from subscriptions.channels import channel_get


def normalize_endpoint(channel: str, endpoint: str) -> str:
    """Return the endpoint in canonical form, or raise ValidationError({"endpoint": ...})."""
    kind = channel_get(channel)
    if kind is None:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    try:
        return kind.normalize_endpoint((endpoint or "").strip())
    except ValidationError as exc:
        raise ValidationError({"endpoint": exc.messages}) from exc
