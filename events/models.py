from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# A lead longer than a week is almost certainly a unit mistake (minutes vs hours).
MAX_LEAD_MINUTES = 7 * 24 * 60
LEAD_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_LEAD_MINUTES)]

# An event's description must fit the one SNS publish of its notification, which SNS
# caps at 256 KiB (delivery.messages.SNS_MAX_MESSAGE_BYTES; events may not import
# delivery), so a long one is refused here and not at send time. With the default
# templates it travels twice in that publish: in the JSON document (the ``default`` body
# for webhooks and the inbox: JSON inside the JSON message, so a character outside the
# BMP, escaped as two \uXXXX and then its backslashes escaped again, takes 14 bytes) and in
# the email body (escaped once: 12 bytes). 26 bytes a character at worst; 64 KiB stay
# for the title (200 characters, in every channel's body), the templates and attributes:
# (256 KiB - 64 KiB) // 26 = 7561, rounded down.
MAX_DESCRIPTION_CHARS = 7500

CANARY_TOPIC_SLUG = "notifier-canary"  # the engine's own end-to-end probe (issue 14); never a user's topic


def default_lead_minutes() -> int:
    return settings.NOTIFIER_LEAD_MINUTES


class Topic(models.Model):
    """An event type people follow; fanned out through one SNS topic."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    default_lead_minutes = models.PositiveIntegerField(default=default_lead_minutes, validators=LEAD_VALIDATORS)
    fifo = models.BooleanField(default=False, help_text="Use a FIFO SNS topic (ordered, deduplicated).")
    sns_topic_arn = models.CharField(max_length=256, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        CANCELLED = "cancelled"

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="events")
    title = models.CharField(max_length=200)
    description = models.TextField(
        blank=True, max_length=MAX_DESCRIPTION_CHARS, validators=[MaxLengthValidator(MAX_DESCRIPTION_CHARS)]
    )  # max_length sizes the API and admin fields; the validator holds it for the services' full_clean
    starts_at = models.DateTimeField(db_index=True)
    lead_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=LEAD_VALIDATORS, help_text="Empty: the topic's default."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["status", "starts_at"], name="event_status_starts")]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d %H:%M %Z})"

    @property
    def effective_lead_minutes(self) -> int:
        return self.lead_minutes if self.lead_minutes is not None else self.topic.default_lead_minutes


class EventChange(models.Model):
    """One create, move, lead change, edit or cancel of an event: who, when, and each
    changed field's value before and after. Written by the services in the transaction
    of the change itself, so a refused change leaves no row and a made one always has its."""

    class Action(models.TextChoices):
        CREATED = "created"
        MOVED = "moved"  # starts_at changed (with or without other fields)
        LEAD_CHANGED = "lead_changed"
        EDITED = "edited"  # title or description only
        CANCELLED = "cancelled"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="changes")
    # Kept when the user is deleted: the label still says who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text='The username, or "system" or the command.')
    action = models.CharField(max_length=16, choices=Action.choices)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["event", "at"], name="eventchange_event_at")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.at:%Y-%m-%d %H:%M:%S %Z}"
