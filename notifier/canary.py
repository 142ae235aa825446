"""The canary (issue 14): the engine proves, end to end, that a notification still goes
through right now.

Every ``NOTIFIER_CANARY_INTERVAL_SECONDS`` the beat task creates an event on the
internal topic ``CANARY_TOPIC_SLUG`` whose notification is due ``CANARY_AHEAD`` later,
and records a ``CanaryRun``. The notification takes the real path (plan, arm, fire, SNS)
to the engine's own SQS queue (``delivery.queues.canary_queue_attach``), where
``canary_receive`` finds it. Nobody else is subscribed to that topic: the API neither
lists it to non-staff nor lets anyone subscribe to it, and users' figures leave it out.

Selectors for the dashboard and /metrics: ``recent_canary_runs``, ``last_canary``,
``last_canary_success``; ``canary_problems`` is what the SLO check alerts on.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from delivery.errors import DeliveryError
from delivery.models import Notification
from delivery.topics import topic_ensure_sns
from events.models import CANARY_TOPIC_SLUG, Event, Topic
from events.services import event_create, topic_create
from notifier.models import CanaryRun

logger = logging.getLogger(__name__)

# Due this far ahead: past the next arm pass (10 s), so it is armed and fired as users'
# notifications are, not on the spot when planned.
CANARY_AHEAD = timedelta(seconds=45)
CANARY_LEAD_MINUTES = 1  # the shortest lead an event may have: the event starts soon after
# A run is missing, and the SLO check alerts, when nothing arrived within two intervals
# and this grace.
MISSING_GRACE = timedelta(seconds=60)
# Runs, and their events and ledger rows, are kept this long (the dashboard's longest
# window), so the canary does not grow the ledger: 288 runs a day at the default interval.
CANARY_KEEP = timedelta(days=7)
PRUNE_BATCH = 1000

State = CanaryRun.State


def missing_after() -> timedelta:
    return 2 * timedelta(seconds=settings.NOTIFIER_CANARY_INTERVAL_SECONDS) + MISSING_GRACE


def canary_topic_ensure() -> Topic:
    """The canary's topic, made on first use, with its SNS topic and the canary queue on it.
    SNS being down is logged, not raised: the fire path makes the SNS topic later, and a
    run that cannot go through is what the canary is there to show."""
    topic = Topic.objects.filter(slug=CANARY_TOPIC_SLUG).first()
    if topic is None:
        try:
            with transaction.atomic():
                topic = topic_create(
                    slug=CANARY_TOPIC_SLUG,
                    name="Engine canary",
                    description="The engine's own end-to-end probe; nobody subscribes to it.",
                    default_lead_minutes=CANARY_LEAD_MINUTES,
                )
        except (IntegrityError, ValidationError):  # another process made it first
            topic = Topic.objects.get(slug=CANARY_TOPIC_SLUG)
    try:
        topic_ensure_sns(topic=topic, verify=True)  # verify: also (re)attaches the canary queue
    except DeliveryError as exc:
        logger.warning("canary topic not ready in SNS: %s", exc)
    return topic


def canary_run_schedule(*, now: datetime | None = None) -> CanaryRun:
    """Create the canary event (planned and armed on commit, like any event) and its run."""
    topic = canary_topic_ensure()
    due_at = (now or timezone.now()) + CANARY_AHEAD
    with transaction.atomic():
        event = event_create(
            topic=topic,
            title=f"Canary {due_at:%Y-%m-%d %H:%M:%S} UTC",
            starts_at=due_at + timedelta(minutes=CANARY_LEAD_MINUTES),
            lead_minutes=CANARY_LEAD_MINUTES,
            actor="canary",
        )
        run = CanaryRun.objects.create(event=event, due_at=due_at)
    logger.info("canary scheduled run=%s event=%s due_at=%s", run.pk, event.pk, due_at.isoformat())
    return run


def canary_runs_mark_missing(*, now: datetime | None = None) -> int:
    """Runs still not back two intervals (plus grace) after their due time; a message
    that comes after all still records its arrival (and its lag says how late)."""
    before = (now or timezone.now()) - missing_after()
    return CanaryRun.objects.filter(state=State.SCHEDULED, due_at__lt=before).update(
        state=State.MISSING, updated_at=timezone.now()
    )


def canary_run_record_arrival(*, event_id: int, received_at: datetime) -> CanaryRun | None:
    """Record that the run of this canary event arrived; None for a message of no run
    (an earlier database's, or not the canary's). Idempotent: the first arrival counts."""
    run = CanaryRun.objects.filter(event_id=event_id).select_related("event").first()
    if run is None:
        return None
    if run.received_at is not None:
        return run
    notification = run.event.notifications.filter(sent_at__isnull=False).order_by("-sent_at").first()
    if notification is not None:
        run.due_at = notification.due_at  # the ledger's (the same unless planning ran late)
        run.published_at = notification.sent_at
    run.received_at = received_at
    run.lag_ms = round((received_at - run.due_at).total_seconds() * 1000)
    run.state = State.RECEIVED
    run.save(update_fields=["due_at", "received_at", "published_at", "lag_ms", "state", "updated_at"])
    logger.info("canary received run=%s lag_ms=%s", run.pk, run.lag_ms)
    return run


def canary_runs_prune(*, now: datetime | None = None) -> int:
    """Delete runs older than ``CANARY_KEEP`` with their canary events and ledger rows (and,
    by cascade, their attempts); at most ``PRUNE_BATCH`` a call. Returns how many runs went."""
    before = (now or timezone.now()) - CANARY_KEEP
    with transaction.atomic():
        old = list(CanaryRun.objects.filter(due_at__lt=before).order_by("due_at")[:PRUNE_BATCH])
        event_ids = [run.event_id for run in old if run.event_id is not None]
        events = Event.objects.filter(pk__in=event_ids, topic__slug=CANARY_TOPIC_SLUG)  # only the canary's, ever
        Notification.objects.filter(event__in=events).delete()
        events.delete()
        CanaryRun.objects.filter(pk__in=[run.pk for run in old]).delete()
    return len(old)


def recent_canary_runs(limit: int = 20) -> list[CanaryRun]:
    """The latest runs, newest due first."""
    return list(CanaryRun.objects.order_by("-due_at", "-id")[:limit])


def last_canary() -> CanaryRun | None:
    """The run received last: its lag is the canary's current figure."""
    return CanaryRun.objects.filter(state=State.RECEIVED).order_by("-received_at", "-id").first()


def last_canary_success() -> CanaryRun | None:
    """The last run whose lag was within the lag alert threshold."""
    limit_ms = settings.NOTIFIER_LAG_ALERT_SECONDS * 1000
    runs = CanaryRun.objects.filter(state=State.RECEIVED, lag_ms__lte=limit_ms)
    return runs.order_by("-received_at", "-id").first()


def canary_problems(*, since: datetime, now: datetime) -> list[tuple[str, str]]:
    """What the SLO check alerts on, as (subject, message): no success within two
    intervals plus a minute (counted from the first run when none ever succeeded), and
    each run received since the last check later than the lag alert threshold."""
    interval = settings.NOTIFIER_CANARY_INTERVAL_SECONDS
    if not interval:
        return []
    problems = []
    limit_ms = settings.NOTIFIER_LAG_ALERT_SECONDS * 1000
    success = last_canary_success()
    first = CanaryRun.objects.order_by("created_at").values_list("created_at", flat=True).first()
    reference = success.received_at if success is not None else first
    if reference is not None and reference < now - missing_after():
        quiet = (now - reference).total_seconds()
        what = f"last canary arrived {quiet:.0f}s ago" if success is not None else "no canary has ever arrived"
        problems.append(("canary missing", f"{what} (interval {interval}s): the engine may not be delivering"))
    late = CanaryRun.objects.filter(
        state=State.RECEIVED, lag_ms__gt=limit_ms, updated_at__gte=since, updated_at__lt=now
    ).order_by("due_at")
    for run in late:
        problems.append(
            ("canary late", f"canary due {run.due_at:%H:%M:%S} arrived {run.lag_ms / 1000:.1f}s late "
                            f"(alert threshold {limit_ms / 1000:.0f}s)")
        )  # fmt: skip
    return problems
