from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from config.encrypted_fields import BlindIndexField, EncryptedTextField, with_blind_indexes
from events.models import Topic
from subscriptions.channels import channel_choices


class PushPlatform(models.TextChoices):
    GCM = "gcm", "Firebase Cloud Messaging (GCM)"
    APNS = "apns", "Apple Push (production)"
    APNS_SANDBOX = "apns_sandbox", "Apple Push (sandbox)"


class Subscription(models.Model):
    """A user following a topic on one channel at one endpoint."""

    class Status(models.TextChoices):
        # Stored, not yet mapped to an SNS subscription.
        UNSYNCED = "unsynced"
        # Email/SMS whose user has not proven the endpoint (EndpointVerification): no SNS subscription.
        PENDING_VERIFICATION = "pending_verification"
        PENDING_CONFIRMATION = "pending_confirmation"
        CONFIRMED = "confirmed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    # The registry's channels (filled by the delivery app); a callable, so a new channel needs no migration.
    channel = models.CharField(max_length=16, choices=channel_choices)
    # Encrypted at rest (docs/decisions/0010); found and kept unique by its digest.
    endpoint = EncryptedTextField(
        max_length=2048, blank=True, help_text="Address, E.164 number, device token or https URL."
    )
    endpoint_digest = BlindIndexField(source="endpoint", db_index=True)
    platform = models.CharField(
        max_length=16, choices=PushPlatform.choices, blank=True, help_text="Push only: the device's platform."
    )
    active = models.BooleanField(default=True)
    # Why the engine turned this row off (a push token gone stale, a number opted out of
    # SMS); empty while active or when its user turned it off. Cleared when re-activated.
    inactive_reason = models.CharField(max_length=200, blank=True, editable=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.UNSYNCED)
    sns_subscription_arn = models.CharField(max_length=512, blank=True, editable=False)
    # Push only: the SNS application endpoint made from the device token.
    sns_endpoint_arn = models.CharField(max_length=512, blank=True, editable=False)
    # Why the last attempt to mirror this row in SNS failed; empty once it succeeds.
    sync_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "topic", "channel", "endpoint_digest"], name="subscription_unique_endpoint"
            )
        ]

    def __str__(self) -> str:
        # No endpoint: the admin log keeps this text in the database, in clear.
        return f"{self.user} → {self.topic.slug} ({self.channel})"

    def save(self, *args: Any, update_fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().save(*args, update_fields=with_blind_indexes(self, update_fields), **kwargs)


class Preference(models.Model):
    """What a user has muted without unsubscribing (applied as SNS filter policies)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    muted_topics = models.ManyToManyField(Topic, blank=True, related_name="muted_by")
    muted_channels = ArrayField(models.CharField(max_length=16, choices=channel_choices), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user}"


class EndpointVerification(models.Model):
    """A user's proof that they hold an email address or phone number (docs/decisions/0008).

    Only rows of users who proved the endpoint reach SNS. The one-time code is kept as an
    HMAC (``code_hash``), never in clear; ``proof_ref`` is what the channel needs to
    follow the proof (email: the per-verification SNS subscription whose link was sent).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verifications")
    channel = models.CharField(max_length=16, choices=channel_choices)
    endpoint = EncryptedTextField(max_length=2048)  # docs/decisions/0010
    endpoint_digest = BlindIndexField(source="endpoint", db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=128, blank=True, editable=False)
    code_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    proof_ref = models.CharField(max_length=512, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "channel", "endpoint_digest"], name="verification_unique_endpoint")
        ]

    def __str__(self) -> str:
        # No endpoint: the admin log keeps this text in the database, in clear.
        return f"{self.user} {self.channel} ({'verified' if self.verified_at else 'pending'})"

    def save(self, *args: Any, update_fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().save(*args, update_fields=with_blind_indexes(self, update_fields), **kwargs)


class VerificationSend(models.Model):
    """One code or link sent, counted against the hourly limits per endpoint and per user.
    Only counted, never read back: the endpoint is kept as its digest alone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16)
    endpoint_digest = models.CharField(max_length=64, editable=False)
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "endpoint_digest", "sent_at"], name="verification_send_endpoint")]

    def __str__(self) -> str:
        return f"{self.channel} send at {self.sent_at:%Y-%m-%d %H:%M}"
