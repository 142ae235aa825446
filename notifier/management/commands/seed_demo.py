import secrets
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.services import token_issue
from delivery.errors import DeliveryError
from delivery.queues import queue_subscribe
from delivery.topics import topic_ensure_sns
from events import services as event_services
from events.models import Topic
from subscriptions.models import Subscription
from subscriptions.services import subscription_create

DEMO_TOPIC = "demo-kickoffs"
DEMO_QUEUE = "notifier-demo-inbox"
# Tomorrow's load for the console's forecast: events over the next 24 h, a fifth of them
# starting at 20:00 UTC, so the peak is at 19:50 (the default 10-minute lead). Nobody
# subscribes to this topic: its sends go to SNS and no further.
LOAD_TOPIC = "demo-evening"
PEAK_START = time(20, 0)


class Command(BaseCommand):
    help = "Create a demo: an operator login, a topic with an SQS demo inbox, events due in 1-3 minutes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="operator")
        parser.add_argument("--password", default=None, help="default: a fresh random one, printed")
        parser.add_argument("--events", type=int, default=3, help="how many events, due 1..N minutes from now")
        parser.add_argument(
            "--load-events", type=int, default=300,
            help="events over the next 24 h for the dashboard's forecast (0: none; none added while some are ahead)",
        )  # fmt: skip

    def handle(
        self, *args: Any, username: str, password: str | None, events: int, load_events: int, **options: Any
    ) -> None:
        if not 1 <= events <= 60:
            raise CommandError(f"--events must be between 1 and 60, got {events}")
        if not 0 <= load_events <= 5000:
            raise CommandError(f"--load-events must be between 0 and 5000, got {load_events}")
        password = password or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        _, token = token_issue(user=user)  # the key is shown only now: knox stores its digest

        topic = Topic.objects.filter(slug=DEMO_TOPIC).first() or event_services.topic_create(
            slug=DEMO_TOPIC, name="Demo kick-offs", description="Created by seed_demo.", default_lead_minutes=10
        )
        try:
            queue_url = queue_subscribe(queue_name=DEMO_QUEUE, topic_arn=topic_ensure_sns(topic=topic, verify=True))
        except DeliveryError as exc:
            raise CommandError(f"SNS/SQS unreachable ({exc}); set AWS_ENDPOINT_URL or AWS credentials") from exc
        if not Subscription.objects.filter(user=user, topic=topic, channel="in_app").exists():
            subscription_create(user=user, topic=topic, channel="in_app")

        now = timezone.now()
        lead = topic.default_lead_minutes
        for minute in range(1, events + 1):
            starts_at = (now + timedelta(minutes=lead + minute)).replace(microsecond=0)
            event = event_services.event_create(topic=topic, title=f"Demo kick-off #{minute}", starts_at=starts_at)
            due = starts_at - timedelta(minutes=lead)
            self.stdout.write(f"event {event.pk} starts {starts_at:%H:%M:%S} UTC, notification due {due:%H:%M:%S} UTC")
        if load_events:
            self.stdout.write(self.seed_tomorrow(count=load_events, now=now))
        self.stdout.write(f"login: {username} / {password}   API token: {token}")
        self.stdout.write(f"demo inbox queue: {queue_url}")

    def seed_tomorrow(self, *, count: int, now: datetime) -> str:
        """``count`` events over the next 24 h, a fifth at the next 20:00 UTC; skipped while
        the topic still has events ahead (``make run`` seeds on every start)."""
        topic = Topic.objects.filter(slug=LOAD_TOPIC).first() or event_services.topic_create(
            slug=LOAD_TOPIC, name="Demo evening load", description="Created by seed_demo.", default_lead_minutes=10
        )
        ahead = topic.events.filter(starts_at__gt=now).count()
        if ahead:
            return f"tomorrow's load: {ahead} events of {LOAD_TOPIC!r} already ahead"
        peak = datetime.combine(now.date(), PEAK_START, tzinfo=now.tzinfo)
        if peak - timedelta(minutes=topic.default_lead_minutes) <= now + timedelta(minutes=15):
            peak += timedelta(days=1)
        at_peak = count // 5
        spread = count - at_peak
        first = now + timedelta(minutes=30)
        step = (timedelta(hours=24) - timedelta(minutes=30)) / max(spread, 1)
        starts = [peak] * at_peak + [(first + step * n).replace(second=0, microsecond=0) for n in range(spread)]
        for number, starts_at in enumerate(starts, start=1):
            event_services.event_create(topic=topic, title=f"Evening load #{number}", starts_at=starts_at)
        due = peak - timedelta(minutes=topic.default_lead_minutes)
        return f"tomorrow's load: {count} events over the next 24 h, peak {at_peak}+ due at {due:%H:%M} UTC"
