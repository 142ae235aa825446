"""/admin/dashboard/: staff only, the admin's look, every figure under a stable
data-metric equal to the ledger, the JSON twin, and the admin index's link to it."""

import re
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from delivery.models import NotificationState as S
from notifier import dashboard
from notifier.models import CanaryRun
from tests.console.ledger import canary_topic, event_on, row
from tests.factories import make_topic

pytestmark = pytest.mark.django_db


def metric(html: str, name: str) -> str:
    """The data-value of the element carrying data-metric=name (the browser tests' hook)."""
    found = re.findall(rf'data-metric="{re.escape(name)}"[^>]*?data-value="([^"]*)"', html)
    assert len(found) == 1, (name, found)
    return found[0]


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_non_staff_and_anonymous_meet_the_admin_login(client, plain_user):
    for path in ("/admin/dashboard/", "/admin/dashboard/data/"):
        anonymous = client.get(path)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/?next=")
    client.force_login(plain_user)
    reply = client.get("/admin/dashboard/")
    assert reply.status_code == 302 and reply["Location"] == "/admin/login/?next=/admin/dashboard/"


def test_the_page_shows_the_ledgers_figures_under_stable_names(staff_client, settings):
    settings.NOTIFIER_CAPACITY_PER_MINUTE = 1200
    now = timezone.now()
    topic = make_topic()
    event = event_on(topic, starts_in=-timedelta(hours=1))
    for _ in range(3):
        row(event, S.PLANNED, due_at=now + timedelta(hours=4))
    row(event, S.ARMED, due_at=now + timedelta(minutes=2))
    row(event, S.SENT, lag_ms=1500, ended_ago=timedelta(minutes=5))
    row(event, S.FAILED, last_error="permanent error: InvalidParameter: disabled")
    row(event_on(canary_topic(), starts_in=-timedelta(hours=1)), S.SENT, lag_ms=90_000)  # left out

    reply = staff_client.get("/admin/dashboard/?window=1h")
    assert reply.status_code == 200
    html = reply.content.decode()
    assert 'id="site-name"' in html and "Delivery dashboard" in html  # admin/base_site.html
    assert (metric(html, "live-planned"), metric(html, "live-armed"), metric(html, "live-sending")) == ("3", "1", "0")
    assert metric(html, "live-overdue") == "0"
    assert metric(html, "lag-15m-count") == "1" and metric(html, "lag-15m-max") == "1.5"
    assert metric(html, "lag-7d-count") == "1"
    assert metric(html, "outcome-total-sent") == "1" and metric(html, "outcome-total-failed") == "1"
    assert f'data-topic="{topic.slug}"' in html and 'data-topic="notifier-canary"' not in html
    assert metric(html, "failure-count") == "1"
    assert metric(html, "forecast-total") == "4" and metric(html, "forecast-peak-due") == "3"
    assert metric(html, "forecast-capacity") == "1200"
    peak = (now + timedelta(hours=4)).replace(second=0, microsecond=0)
    assert metric(html, "forecast-peak-start") == peak.isoformat()
    assert 'id="forecast-chart"' in html and 'id="lag-per-hour-chart"' in html
    assert f'data-metric="forecast-peak-marker" data-start="{peak.isoformat()}"' in html
    assert 'id="console-canary"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing from another host
    assert "/static/notifier/dashboard.js" in html and "/static/notifier/dashboard.css" in html


def test_the_fragment_and_the_json_carry_the_same_figures(staff_client):
    event = event_on(starts_in=-timedelta(hours=1))
    row(event, S.EXPIRED, last_error="deadline passed before it could be sent (due 2026-01-01 10:00:00 UTC)")
    fragment = staff_client.get("/admin/dashboard/?fragment=1&window=24h")
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert "<html" not in html and metric(html, "outcome-total-expired") == "1"
    data = staff_client.get("/admin/dashboard/data/?window=24h").json()
    assert data["outcomes"]["totals"]["expired"] == 1 and data["window"] == "24h"
    assert {"live", "queues", "lag", "lag_per_hour", "outcomes", "failures", "forecast", "canary"} <= set(data)
    assert len(data["forecast"]["due_per_minute"]) == 24 * 60


def test_an_unknown_window_is_a_400_naming_the_field(staff_client):
    for path in ("/admin/dashboard/?window=2y", "/admin/dashboard/data/?window="):
        reply = staff_client.get(path)
        assert reply.status_code == 400 and "window" in reply.json()


def test_the_admin_index_links_to_the_dashboard(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/" data-metric="dashboard-link"' in html
    assert "Site administration" in html  # still the stock index around it


def test_the_page_stands_without_its_cache(staff_client, settings):
    # The slow figures' cache is Redis; unreachable, they are computed on every request.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    row(event_on(starts_in=-timedelta(hours=1)), S.SENT, lag_ms=700)
    reply = staff_client.get("/admin/dashboard/?window=24h")
    assert reply.status_code == 200 and metric(reply.content.decode(), "lag-24h-count") == "1"


def test_the_beat_refreshes_the_slow_figures_and_the_page_reads_them(staff_client):
    from django_celery_beat.models import PeriodicTask

    from notifier.beat import CONSOLE_TASK_NAME, beat_schedule_sync
    from notifier.tasks import console_refresh_task

    beat_schedule_sync()
    task = PeriodicTask.objects.get(name=CONSOLE_TASK_NAME)
    assert task.task == console_refresh_task.name and task.interval.every == 60
    event = event_on(starts_in=-timedelta(hours=1))
    row(event, S.SENT, lag_ms=100)
    assert staff_client.get("/admin/dashboard/").status_code == 200  # someone looks: the beat keeps it fresh
    console_refresh_task()  # the beat's run, in-process
    row(event, S.SENT, lag_ms=200)  # after it: live windows see it, the 24 h figures not yet
    html = staff_client.get("/admin/dashboard/?window=24h").content.decode()
    assert metric(html, "lag-15m-count") == "2" and metric(html, "lag-24h-count") == "1"
    assert metric(html, "outcome-total-sent") == "1"
    console_refresh_task()
    html = staff_client.get("/admin/dashboard/?window=24h").content.decode()
    assert metric(html, "lag-24h-count") == "2" and metric(html, "outcome-total-sent") == "2"


def test_the_canary_panel_shows_the_last_runs_and_its_lag(staff_client, settings):
    settings.NOTIFIER_CANARY_INTERVAL_SECONDS = 300
    settings.NOTIFIER_LAG_ALERT_SECONDS = 30
    now = timezone.now()
    on_time = CanaryRun.objects.create(
        due_at=now - timedelta(minutes=10),
        state=CanaryRun.State.RECEIVED,
        received_at=now - timedelta(minutes=10) + timedelta(milliseconds=80),
        lag_ms=80,
    )
    CanaryRun.objects.create(
        due_at=now - timedelta(minutes=5),
        state=CanaryRun.State.RECEIVED,
        received_at=now - timedelta(minutes=4),
        lag_ms=60_000,
    )  # late: the last lag, but not the last success
    CanaryRun.objects.create(due_at=now + timedelta(seconds=30))
    html = staff_client.get("/admin/dashboard/").content.decode()
    assert metric(html, "canary-interval") == "300"
    assert metric(html, "canary-last-lag") == "60.0"
    assert metric(html, "canary-last-success") == on_time.received_at.isoformat()
    assert html.count("data-canary-due=") == 3

    settings.NOTIFIER_CANARY_INTERVAL_SECONDS = 0
    html = staff_client.get("/admin/dashboard/").content.decode()
    assert metric(html, "canary-status") == "off"


def _age_the_cached_figures(by: timedelta) -> None:
    for name in dashboard._slow_parts(timezone.now()):
        computed_at, value = cache.get(f"console:{name}")
        cache.set(f"console:{name}", (computed_at - by, value))


def test_a_stale_slow_figure_is_shown_with_its_age_while_a_worker_recomputes_it(staff_client, monkeypatch):
    """Beat down is when on-call looks: the page stays fast on the last figures, says how old
    they are, and asks a worker (once a minute at most) to recompute them."""
    asked = []
    monkeypatch.setattr(dashboard, "console_refresh_enqueue", lambda: asked.append(True))
    event = event_on(starts_in=-timedelta(hours=1))
    row(event, S.EXPIRED, last_error="deadline passed")
    dashboard.slow_figures_refresh()
    page = "/admin/dashboard/?fragment=1&window=24h"
    html = staff_client.get(page).content.decode()
    assert metric(html, "outcome-total-expired") == "1" and "stale:" not in html and asked == []

    row(event, S.EXPIRED, last_error="deadline passed")
    _age_the_cached_figures(timedelta(minutes=10))
    html = staff_client.get(page).content.decode()
    assert metric(html, "outcome-total-expired") == "1"  # the cached figure, not recomputed in the request
    as_of = datetime.fromisoformat(metric(html, "slow-figures-as-of"))
    assert timedelta(minutes=9) < timezone.now() - as_of < timedelta(minutes=11)
    assert "stale:" in html and asked == [True]
    staff_client.get(page)
    assert asked == [True]  # one request a minute, however many pages look

    dashboard.slow_figures_refresh()  # what the worker asked runs
    html = staff_client.get(page).content.decode()
    assert metric(html, "outcome-total-expired") == "2" and "stale:" not in html
    assert metric(html, "live-planned") == "0"  # live figures are read on every request
