"""The canary's record (issue 14): one row per synthetic notification the engine sends
itself, from scheduling to its arrival in the engine's own SQS queue."""

from django.db import models

from events.models import Event


class CanaryRun(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled"  # its event is created; the notification is not back yet
        RECEIVED = "received"
        MISSING = "missing"  # not back within two canary intervals (plus a minute) of its due time

    event = models.OneToOneField(Event, on_delete=models.SET_NULL, null=True, related_name="canary_run")
    due_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True, help_text="SNS acknowledged the publish.")
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="SQS accepted the message (its SentTimestamp), not when it was read."
    )
    lag_ms = models.IntegerField(null=True, blank=True, help_text="received_at - due_at")
    state = models.CharField(max_length=16, choices=State.choices, default=State.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        indexes = [
            models.Index(fields=["-due_at"], name="canary_run_due_desc"),
            models.Index(fields=["state", "-received_at"], name="canary_run_state_received"),
        ]

    def __str__(self) -> str:
        return f"canary due {self.due_at:%Y-%m-%d %H:%M:%S} ({self.state})"
