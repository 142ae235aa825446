"""Endpoint ownership (docs/decisions/0008): a user proves they hold an email address or
a phone number by entering a one-time code that only reaches that endpoint.

The channel adapters do the sending (``ChannelKind.proof_*``, through the registry:
this app may not import delivery). The code exists in clear only while it is sent; the
row keeps an HMAC of it. Every reply is the same whether or not anyone else holds the
endpoint: nothing here reads other users' rows except the per-endpoint send count.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from config.announce import announce_on_commit
from config.crypto import blind_index
from config.masking import endpoint_masked_in
from subscriptions.channels import ChannelKind, channel_get
from subscriptions.models import EndpointVerification, Subscription, VerificationSend
from subscriptions.signals import subscription_changed
from subscriptions.validation import normalize_endpoint

logger = logging.getLogger(__name__)

CODE_DIGITS = 6


class VerificationLimitReached(Exception):
    """Too many codes sent in the last hour (to this endpoint, or by this user)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def code_hash(verification_id: int, code: str) -> str:
    """HMAC-SHA256 under SECRET_KEY, bound to the row: a code is worth nothing elsewhere."""
    return salted_hmac("notifier.verification", f"{verification_id}:{code}", algorithm="sha256").hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _proof_kind(channel: str) -> ChannelKind:
    kind = channel_get(channel)
    if kind is None:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    if not kind.needs_proof:
        raise ValidationError({"channel": "Only email addresses and phone numbers (sms) are verified."})
    return kind


def _serialize_sends(*, user: AbstractBaseUser, channel: str, endpoint: str) -> None:
    """Count-then-send is read-then-write: two requests at once (two users for one number,
    or one user for two numbers) could both pass the count. Transaction-scoped advisory
    locks, always taken endpoint first, then user, make them wait for each other."""
    with connection.cursor() as cursor:
        # The digest, not the clear endpoint: a statement log would show the parameter.
        digest = blind_index(endpoint)
        for key in (f"notifier.verification.endpoint:{channel}:{digest}", f"notifier.verification.user:{user.pk}"):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _refuse_over_limit(*, user: AbstractBaseUser, channel: str, endpoint: str) -> None:
    _serialize_sends(user=user, channel=channel, endpoint=endpoint)
    hour_ago = timezone.now() - timedelta(hours=1)
    recent = VerificationSend.objects.filter(sent_at__gt=hour_ago)
    to_endpoint = recent.filter(channel=channel, endpoint_digest=blind_index(endpoint))
    limits = (
        (to_endpoint, settings.NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR,
         "Too many verification messages were sent to this endpoint in the last hour; try again later."),
        (recent.filter(user=user), settings.NOTIFIER_VERIFICATION_SENDS_PER_USER_PER_HOUR,
         "You asked for too many verification messages in the last hour; try again later."),
    )  # fmt: skip
    for sends, limit, message in limits:
        times = list(sends.order_by("-sent_at").values_list("sent_at", flat=True)[:limit])
        if len(times) >= limit:
            # The oldest send of the last ``limit`` leaves the hour first.
            retry_after = int((times[-1] + timedelta(hours=1) - timezone.now()).total_seconds()) + 1
            raise VerificationLimitReached(message, retry_after=max(retry_after, 1))


def _send_code(kind: ChannelKind, verification: EndpointVerification) -> None:
    """Issue a fresh code (the old one stops working), store its hash, send it."""
    code = _new_code()
    verification.code_hash = code_hash(verification.pk, code)
    verification.code_expires_at = timezone.now() + timedelta(seconds=settings.NOTIFIER_VERIFICATION_CODE_TTL_SECONDS)
    verification.attempts = 0
    verification.save(update_fields=["code_hash", "code_expires_at", "attempts", "updated_at"])
    kind.proof_send(endpoint=verification.endpoint, ref=verification.proof_ref, code=code)


def verification_request(*, user: AbstractBaseUser, channel: str, endpoint: str) -> EndpointVerification:
    """Send a code (SMS) or start the email proof. Proven already: nothing is sent."""
    kind = _proof_kind(channel)
    endpoint = normalize_endpoint(channel, endpoint)
    with transaction.atomic():
        verification, _ = EndpointVerification.objects.select_for_update().get_or_create(
            user=user, channel=channel, endpoint_digest=blind_index(endpoint), defaults={"endpoint": endpoint}
        )
        if verification.verified_at is not None:
            return verification
        _refuse_over_limit(user=user, channel=channel, endpoint=endpoint)
        VerificationSend.objects.create(user=user, channel=channel, endpoint_digest=blind_index(endpoint))
        # A new request starts a new proof: the old link or code is dropped.
        old_ref, verification.proof_ref = verification.proof_ref, kind.proof_open(endpoint=endpoint)
        verification.code_hash, verification.code_expires_at, verification.attempts = "", None, 0
        verification.save()
        if kind.proof_ready(ref=verification.proof_ref):
            _send_code(kind, verification)
    if old_ref:
        _close_quietly(kind, old_ref)
    return verification


def verification_poll(*, user: AbstractBaseUser | None = None) -> int:
    """Send the code of each email proof whose link was followed since the last look
    (the status endpoint and the periodic ``sync_sns`` call this); returns how many."""
    waiting = EndpointVerification.objects.filter(verified_at__isnull=True, code_hash="").exclude(proof_ref="")
    if user is not None:
        waiting = waiting.filter(user=user)
    sent = 0
    for verification in waiting.order_by("pk"):
        kind = channel_get(verification.channel)
        try:
            if kind is None or not kind.proof_ready(ref=verification.proof_ref):
                continue
            with transaction.atomic():
                # Another poll may have sent it meanwhile: only one sends.
                locked = EndpointVerification.objects.select_for_update().filter(pk=verification.pk, code_hash="")
                verification = locked.first()
                if verification is not None:
                    _send_code(kind, verification)
                    sent += 1
        except Exception as exc:  # one endpoint SNS refuses must not stop the others
            error = endpoint_masked_in(str(exc), verification.endpoint)
            logger.warning("verification poll failed verification=%s error=%s", verification.pk, error)
    return sent


@dataclass(frozen=True)
class _Outcome:
    error: str = ""
    ref_to_close: str = ""


def _check_code(verification: EndpointVerification | None, code: str) -> _Outcome:
    """Decide, and write what is decided (attempts or proof) on the locked row."""
    if verification is None or (verification.verified_at is None and not verification.code_hash):
        return _Outcome("No code is waiting for this endpoint: request one first.")
    if verification.verified_at is not None:
        return _Outcome()
    if verification.attempts >= settings.NOTIFIER_VERIFICATION_MAX_ATTEMPTS:
        return _Outcome("Too many wrong codes: request a new one.")
    if verification.code_expires_at is None or verification.code_expires_at <= timezone.now():
        return _Outcome("This code has expired: request a new one.")
    if not constant_time_compare(code_hash(verification.pk, code.strip()), verification.code_hash):
        verification.attempts += 1
        verification.save(update_fields=["attempts", "updated_at"])
        left = settings.NOTIFIER_VERIFICATION_MAX_ATTEMPTS - verification.attempts
        return _Outcome(f"Wrong code; {left} attempt(s) left." if left else "Wrong code: request a new one.")
    ref = verification.proof_ref
    verification.verified_at = timezone.now()
    verification.code_hash, verification.code_expires_at, verification.proof_ref = "", None, ""
    verification.save()
    return _Outcome(ref_to_close=ref)


def verification_confirm(*, user: AbstractBaseUser, channel: str, endpoint: str, code: str) -> EndpointVerification:
    """Check the code; once it matches, every subscription of this user to the endpoint
    goes to SNS (after commit). A wrong code counts an attempt and raises ValidationError."""
    kind = _proof_kind(channel)
    endpoint = normalize_endpoint(channel, endpoint)
    with transaction.atomic():
        verification = (
            EndpointVerification.objects.select_for_update().filter(
                user=user, channel=channel, endpoint_digest=blind_index(endpoint)
            )
        ).first()
        outcome = _check_code(verification, code)
        if not outcome.error:
            rows = Subscription.objects.filter(user=user, channel=channel, endpoint_digest=blind_index(endpoint))
            for subscription_id in rows.values_list("pk", flat=True):
                announce_on_commit(subscription_changed, Subscription, subscription_id=subscription_id)
    # Raised after the block: the attempt just counted must be committed, not rolled back.
    if outcome.error:
        raise ValidationError({"code": outcome.error})
    if outcome.ref_to_close:
        transaction.on_commit(lambda: _close_quietly(kind, outcome.ref_to_close))
    assert verification is not None
    return verification


def _close_quietly(kind: ChannelKind, ref: str) -> None:
    try:
        kind.proof_close(ref=ref)
    except Exception as exc:  # a leftover verification topic costs nothing and sends nothing more
        logger.warning("closing a verification failed ref=%s error=%s", ref, exc)
