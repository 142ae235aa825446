"""`seed_demo` (run by `make run`) seeds tomorrow's load, so the dashboard's forecast shows
a peak at 19:50 UTC; a second run adds no more while those events are ahead."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import Event
from notifier.forecast import forecast
from notifier.management.commands.seed_demo import LOAD_TOPIC

pytestmark = pytest.mark.django_db


def seed(load: int) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--events", "1", "--load-events", str(load), stdout=out)
    return out.getvalue()


def test_the_demo_seeds_a_day_of_load_with_a_peak_at_1950():
    printed = seed(50)
    assert "tomorrow's load: 50 events" in printed and printed.strip().splitlines()[-1].startswith("demo inbox queue")
    now = timezone.now()
    ahead = Event.objects.filter(topic__slug=LOAD_TOPIC, starts_at__gt=now)
    # The peak is the next 20:00 whose 19:50 due time is at least 15 minutes away: run
    # between 19:35 and 20:00 UTC, that is tomorrow's, up to 25 minutes past 24 h from now.
    latest = now + timedelta(hours=24, minutes=25)
    assert ahead.count() == 50 and max(e.starts_at for e in ahead) <= latest
    result = forecast(hours=25, bucket_seconds=60)
    assert (result.peak_minute.start.hour, result.peak_minute.start.minute) == (19, 50)
    assert result.peak_minute.due >= 10 and result.total >= 50
    assert "already ahead" in seed(50) and ahead.count() == 50
