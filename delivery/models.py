from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from delivery.channels import template_part_choices
from delivery.rendering import MAX_TEMPLATE_CHARS
from events.models import Event, Topic


class NotificationState(models.TextChoices):
    PLANNED = "planned"
    ARMED = "armed"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


ACTIVE_STATES = (NotificationState.PLANNED, NotificationState.ARMED, NotificationState.SENDING)
TERMINAL_STATES = tuple(s for s in NotificationState if s not in ACTIVE_STATES)


class Notification(models.Model):
    """One scheduled send for one event at one start time: the ledger (docs/decisions/0001)."""

    # No index of its own: notification_event_state (event, state) serves every lookup by
    # event, and each index is written twice per notification on the fire path.
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="notifications", db_index=False)
    # Migration 0006 dropped the varchar_pattern_ops index Django adds beside the unique
    # one. Django builds it again, not concurrently, whenever this field's type changes:
    # drop it again in that migration.
    key = models.CharField(max_length=64, unique=True)
    lead_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    deadline = models.DateTimeField()
    state = models.CharField(max_length=16, choices=NotificationState.choices, default=NotificationState.PLANNED)
    armed_at = models.DateTimeField(null=True, blank=True)
    # When the outstanding fire task should run (due time, or a retry's backoff):
    # reconcile re-enqueues armed rows only once this is past by the grace.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    lag_ms = models.IntegerField(null=True, blank=True)
    sns_message_id = models.CharField(max_length=128, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # Serves the arm and reconcile queries: only live rows, by due time.
            models.Index(
                fields=["state", "due_at"],
                name="notification_active_due",
                condition=Q(state__in=[state.value for state in ACTIVE_STATES]),
            ),
            models.Index(fields=["event", "state"], name="notification_event_state"),
            models.Index(fields=["sent_at"], name="notification_sent_at"),
            # The console (issue 14), index-only at a million rows: lag histograms of sends...
            models.Index(
                fields=["sent_at"],
                include=["lag_ms", "event_id"],
                name="notification_sent_lag",
                condition=Q(state=NotificationState.SENT),
            ),
            # ...and outcomes (failures by reason among them) over a window, by when the row ended.
            models.Index(
                fields=["state", "updated_at"],
                include=["event_id"],
                name="notification_outcome_updated",
                condition=Q(state__in=[state.value for state in TERMINAL_STATES]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} · event {self.event_id} · due {self.due_at:%Y-%m-%d %H:%M:%S} UTC · {self.state}"


class DeliveryAttempt(models.Model):
    """One try at publishing one notification to SNS."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "in_progress"
        SENT = "sent"
        TRANSIENT_ERROR = "transient_error"
        PERMANENT_ERROR = "permanent_error"
        SKIPPED_STALE = "skipped_stale"
        EXPIRED = "expired"
        ABANDONED = "abandoned"  # the worker died mid-attempt; reconcile took it back

    # No index of its own: attempt_unique_number (notification, number) serves it.
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts_log", db_index=False
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    error = models.TextField(blank=True)
    sns_message_id = models.CharField(max_length=128, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["notification_id", "number"]
        constraints = [models.UniqueConstraint(fields=["notification", "number"], name="attempt_unique_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of #{self.notification_id}: {self.outcome}"


class InboxMessage(models.Model):
    """One in-app message for one user, written by the inbox consumer (idempotent per user)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="inbox_messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_messages")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="HTML, escaped from the event's text by the in-app template.")
    starts_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Deleting keeps the row, hidden: a late duplicate SQS delivery must not bring it back.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["notification", "user"], name="inbox_once_per_user")]
        indexes = [
            models.Index(
                fields=["user", "-starts_at"], name="inbox_user_visible", condition=Q(deleted_at__isnull=True)
            ),
            models.Index(
                fields=["user"], name="inbox_user_unread", condition=Q(read_at__isnull=True, deleted_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.user}"


class MessageTemplate(models.Model):
    """A topic's own wording for one part of one channel's message, in Django template language."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="message_templates")
    # The parts the channel adapters declare; a callable, so a new channel needs no migration.
    part = models.CharField(max_length=20, choices=template_part_choices)
    # Bounded: every part of every channel renders into one SNS message (256 KiB), and a
    # template is compiled and cached per process.
    source = models.TextField(max_length=MAX_TEMPLATE_CHARS, validators=[MaxLengthValidator(MAX_TEMPLATE_CHARS)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["topic_id", "part"]
        constraints = [
            models.UniqueConstraint(fields=["topic", "part"], name="template_one_per_part"),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("source"), MAX_TEMPLATE_CHARS),
                name="template_source_bounded",
                violation_error_message=f"A template is at most {MAX_TEMPLATE_CHARS} characters.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic.slug}: {self.part}"
