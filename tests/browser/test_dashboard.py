"""/admin/dashboard/ in a browser over known rows (issue 14, points 1 and 7): every figure
shown equals the ledger's own count, the forecast marks a planted peak in its minute, a
failure reason links to the ledger filtered to its rows, the window can be changed and
the page refreshes itself; canary rows count nowhere; nothing comes from another host."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.models import ACTIVE_STATES, Notification, NotificationState
from events.models import CANARY_TOPIC_SLUG, Event
from tests.browser.busy_day import plant_busy_day
from tests.browser.screens import screenshot
from tests.console.ledger import canary_topic, event_on, row
from tests.factories import make_topic
from tests.ids import unique_slug

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

S = NotificationState
DASHBOARD = "/admin/dashboard/"
TERMINAL = (S.SENT, S.FAILED, S.EXPIRED, S.SUPERSEDED, S.CANCELLED)
DISABLED = "permanent error: InvalidParameter: Endpoint is disabled"
THROTTLED = "retries exhausted: Throttling: Rate exceeded"


def users_rows():
    """The ledger as users' figures see it: without the canary's rows."""
    return Notification.objects.exclude(event__topic__slug=CANARY_TOPIC_SLUG)


def minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def plant(now: datetime) -> dict:
    """Two users' topics and the canary's, each state represented, a peak of 7 due in one
    minute four hours ahead, and an event not planned yet."""
    kickoffs, standups = make_topic(), make_topic()
    started = {topic: event_on(topic, starts_in=-timedelta(hours=1)) for topic in (kickoffs, standups)}
    peak = minute(now + timedelta(hours=4, minutes=10))
    for _ in range(7):
        row(started[kickoffs], S.PLANNED, due_at=peak)
    row(started[standups], S.PLANNED, due_at=peak + timedelta(minutes=30))
    row(started[standups], S.ARMED, due_at=now + timedelta(minutes=3))
    row(started[kickoffs], S.PLANNED, due_at=now - timedelta(minutes=2))  # overdue: the beat is down
    stuck = row(started[kickoffs], S.SENDING, due_at=now - timedelta(minutes=4))
    Notification.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(minutes=3))
    for lag_ms in (400, 900, 2500):
        row(started[kickoffs], S.SENT, lag_ms=lag_ms, ended_ago=timedelta(minutes=8))
    row(started[standups], S.SENT, lag_ms=1200, ended_ago=timedelta(hours=3))  # in 24 h, not in 1 h
    failed = [row(started[kickoffs], S.FAILED, last_error=DISABLED) for _ in range(2)]
    row(started[standups], S.FAILED, last_error=THROTTLED)
    row(started[standups], S.EXPIRED, last_error="deadline passed before it could be sent")
    row(started[kickoffs], S.SUPERSEDED)
    row(started[standups], S.CANCELLED)
    # Not planned yet: no ledger row, due (start - lead) in 5 h 50 min.
    unplanned = Event.objects.create(topic=standups, title="Stand-up", starts_at=minute(now) + timedelta(hours=6),
                                     lead_minutes=10)  # fmt: skip
    canary_event = event_on(canary_topic(), starts_in=-timedelta(hours=1))
    row(canary_event, S.SENT, lag_ms=95_000, ended_ago=timedelta(minutes=8))
    row(canary_event, S.FAILED, last_error=DISABLED)
    # More than the planted peak, due as a canary's rows are (a minute before their event):
    # the forecast would show them as the peak if it counted them.
    canary_due = peak + timedelta(minutes=5)
    ahead = Event.objects.create(topic=canary_topic(), title="canary", starts_at=canary_due + timedelta(minutes=1),
                                 lead_minutes=1)  # fmt: skip
    for _ in range(9):
        row(ahead, S.PLANNED, due_at=canary_due)
    return {"topics": (kickoffs, standups), "peak": peak, "failed": failed, "unplanned": unplanned}


def shown(page: Page, metric: str) -> tuple[str, str]:
    """The text a person reads for a figure, and its machine value (data-value)."""
    element = page.locator(f'[data-metric="{metric}"]')
    expect(element).to_have_count(1)
    return element.inner_text().strip(), element.get_attribute("data-value") or ""


def assert_figure(page: Page, metric: str, expected: int) -> None:
    text, value = shown(page, metric)
    assert (value, text.split(" ")[0]) == (str(expected), str(expected)), (metric, text, value, expected)


def test_the_dashboard_shows_the_ledgers_figures(staff_page: Page):
    now = timezone.now()
    planted = plant(now)
    kickoffs, standups = planted["topics"]

    staff_page.click('[data-metric="dashboard-link"]')  # from the admin index, as on-call gets there
    assert staff_page.url.endswith(DASHBOARD)
    expect(staff_page.locator("#site-name")).to_be_visible()  # the admin's own header
    staff_page.select_option("#window", "1h")
    staff_page.click("#console-window button[type=submit]")
    staff_page.wait_for_load_state()
    assert "window=1h" in staff_page.url

    # Now: each live state, overdue and stuck, as the ledger counts them.
    live = users_rows()
    for state in ACTIVE_STATES:
        assert_figure(staff_page, f"live-{state}", live.filter(state=state).count())
    overdue_before = now - timedelta(seconds=settings.NOTIFIER_LAG_ALERT_SECONDS)
    assert_figure(staff_page, "live-overdue", live.filter(state__in=ACTIVE_STATES, due_at__lt=overdue_before).count())
    stuck_before = now - timedelta(seconds=settings.NOTIFIER_SENDING_TIMEOUT_SECONDS)
    assert_figure(staff_page, "live-stuck-sending", live.filter(state=S.SENDING, updated_at__lt=stuck_before).count())
    assert (live.filter(state=S.PLANNED).count(), live.filter(state=S.SENDING).count()) == (9, 1)  # planted
    next_due = live.filter(state__in=(S.PLANNED, S.ARMED)).order_by("due_at").first().due_at
    assert shown(staff_page, "live-next-due")[1] == next_due.isoformat()

    # Outcomes over the last hour, all topics and per topic; the canary's rows are not among them.
    hour_ago = now - timedelta(hours=1)
    ended = live.filter(updated_at__gte=hour_ago)
    for state in TERMINAL:
        assert_figure(staff_page, f"outcome-total-{state}", ended.filter(state=state).count())
    assert shown(staff_page, "outcome-total-sent")[1] == "3"  # the 3 h old send is outside the hour
    for topic in (kickoffs, standups):
        topic_row = staff_page.locator(f'tr[data-topic="{topic.slug}"]')
        for state in TERMINAL:
            expected = ended.filter(event__topic=topic, state=state).count()
            expect(topic_row.locator(f'[data-metric="outcome-{state}"]')).to_have_text(str(expected))
    expect(staff_page.locator(f'tr[data-topic="{CANARY_TOPIC_SLUG}"]')).to_have_count(0)

    # Lag over 15 min and 24 h: the sends and their worst lag (the canary's 95 s left out).
    sent = live.filter(state=S.SENT)
    for window, span in (("15m", timedelta(minutes=15)), ("24h", timedelta(hours=24))):
        in_window = sent.filter(sent_at__gte=now - span)
        assert_figure(staff_page, f"lag-{window}-count", in_window.count())
        worst = max(in_window.values_list("lag_ms", flat=True)) / 1000
        assert shown(staff_page, f"lag-{window}-max") == (f"{worst} s", str(worst))

    # Failures by reason: each count equals the ledger's, and its link lists exactly those rows.
    for reason in (DISABLED, THROTTLED):
        failure = staff_page.locator(f'tr[data-reason="{reason}"]')
        expected = ended.filter(state=S.FAILED, last_error=reason).count()
        expect(failure.locator('[data-metric="failure-count"]')).to_have_text(str(expected))
    staff_page.locator(f'tr[data-reason="{DISABLED}"] a[data-metric="failure-link"]').click()
    staff_page.wait_for_load_state()
    listed = staff_page.locator("#result_list tbody tr .field-id")
    expect(listed).to_have_count(2)
    assert sorted(int(text) for text in listed.all_inner_texts()) == sorted(row.pk for row in planted["failed"])


def test_the_forecast_marks_the_planted_peak_in_its_minute(staff_page: Page):
    now = timezone.now()
    planted = plant(now)
    peak, unplanned = planted["peak"], planted["unplanned"]
    staff_page.goto(DASHBOARD)

    start = minute(timezone.now())
    due = users_rows().filter(state__in=(S.PLANNED, S.ARMED), due_at__gte=start, due_at__lt=start + timedelta(hours=24))
    assert not Notification.objects.filter(event=unplanned).exists()
    assert_figure(staff_page, "forecast-total", due.count() + 1)  # the ledger's and the unplanned event's
    text, value = shown(staff_page, "forecast-peak-start")
    assert (text, value) == (f"{peak:%Y-%m-%d %H:%M} UTC", peak.isoformat())
    assert_figure(staff_page, "forecast-peak-due", due.filter(due_at=peak).count())
    assert due.filter(due_at=peak).count() == 7

    marker = staff_page.locator('#forecast-chart [data-metric="forecast-peak-marker"]')
    expect(marker).to_have_attribute("data-start", peak.isoformat())
    expect(marker).to_have_attribute("data-value", "7")
    expect(marker).to_contain_text(f"peak {peak:%H:%M}: 7")
    expect(marker).to_be_visible()
    # The marker sits over its minute: its x within the plot, in proportion to the minute.
    box = staff_page.locator("#forecast-chart").bounding_box()
    line = marker.locator("line").bounding_box()
    assert box and line
    share = (peak - start) / timedelta(hours=24)
    assert abs((line["x"] - box["x"]) / box["width"] - share) < 0.08, (line, box, share)


def test_the_dashboard_refreshes_itself(staff_page: Page, monkeypatch):
    import notifier.dashboard_views

    monkeypatch.setattr(notifier.dashboard_views, "REFRESH_SECONDS", 1)
    event = event_on(make_topic(), starts_in=-timedelta(hours=1))
    staff_page.goto(DASHBOARD + "?window=1h")  # 24 h and longer are cached a minute; the last hour is live
    assert_figure(staff_page, "outcome-total-failed", 0)
    expect(staff_page.locator('[data-metric="failures-none"]')).to_be_visible()

    row(event, S.FAILED, last_error=DISABLED)  # no reload: the page's own refresh finds it
    expect(staff_page.locator('[data-metric="outcome-total-failed"]')).to_have_text("1", timeout=10_000)
    expect(staff_page.locator(f'tr[data-reason="{DISABLED}"] [data-metric="failure-count"]')).to_have_text("1")
    expect(staff_page.locator('[data-metric="refresh-status"]')).to_have_text("live")


def test_the_dashboard_loads_nothing_from_another_host(staff_page: Page, live_server):
    requested: list[str] = []
    staff_page.on("request", lambda request: requested.append(request.url))
    plant(timezone.now())
    staff_page.goto(DASHBOARD)
    expect(staff_page.locator("#forecast-chart")).to_be_visible()
    assert requested and all(url.startswith(live_server.url + "/") for url in requested), requested
    assert any(url.endswith("/static/notifier/dashboard.js") for url in requested)
    colour = staff_page.locator("#forecast-chart polygon").evaluate("node => getComputedStyle(node).fill")
    assert colour not in ("", "none", "rgb(0, 0, 0)"), colour  # the stylesheet came and styled the chart


def test_only_staff_see_the_dashboard(page: Page, transactional_db):
    from django.contrib.auth import get_user_model

    from tests.browser.conftest import log_in

    page.goto(DASHBOARD)
    assert "/admin/login/" in page.url and "next=/admin/dashboard/" in page.url
    get_user_model().objects.create_user("reader", password="Reader-pw-2026!")
    log_in(page, "reader", "Reader-pw-2026!")
    assert "/admin/login/" in page.url


def test_a_busy_day_shows_tomorrows_rush_and_the_days_figures(staff_page: Page, settings):
    """The README's screenshots (SCREENSHOTS=1): a day of sends and tomorrow's 19:50 rush."""
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")  # not the session's shared queues
    now = timezone.now()
    day = plant_busy_day(now)
    staff_page.goto(DASHBOARD)
    expect(staff_page.locator("#forecast-chart")).to_be_visible()

    text, value = shown(staff_page, "forecast-peak-start")
    assert value == day.rush.isoformat() and text == f"{day.rush:%Y-%m-%d %H:%M} UTC"
    assert_figure(staff_page, "forecast-peak-due", users_rows().filter(due_at=day.rush, state=S.PLANNED).count())
    start = minute(timezone.now())
    due = users_rows().filter(state__in=(S.PLANNED, S.ARMED), due_at__gte=start, due_at__lt=start + timedelta(hours=24))
    shown_total = int(shown(staff_page, "forecast-total")[1])
    assert shown_total == due.count() + day.unplanned
    day_ago = now - timedelta(hours=24)
    ended = users_rows().filter(updated_at__gte=day_ago)
    for state in TERMINAL:
        assert_figure(staff_page, f"outcome-total-{state}", ended.filter(state=state).count())
    assert_figure(staff_page, "lag-24h-count", users_rows().filter(state=S.SENT, sent_at__gte=day_ago).count())
    expect(staff_page.locator("#lag-per-hour-chart rect.bar")).not_to_have_count(0)
    assert (shown(staff_page, "queue-inbox")[1], shown(staff_page, "queue-dead-letter")[1]) == ("0", "0")

    timing = staff_page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {server: n.responseStart - n.requestStart, loaded: n.loadEventEnd - n.startTime}; }"
    )
    print(f"dashboard over {Notification.objects.count()} ledger rows: server {timing['server']:.0f} ms, "
          f"page loaded {timing['loaded']:.0f} ms")  # fmt: skip
    screenshot(staff_page, "dashboard")
    screenshot(staff_page, "forecast", selector="#console-forecast")


def test_the_canary_panel_shows_its_runs_and_last_lag(staff_page: Page, settings):
    """Three runs: an on-time one, a late one (over the lag alert) and a missing one."""
    from notifier.models import CanaryRun

    settings.NOTIFIER_CANARY_INTERVAL_SECONDS = 300
    now = timezone.now().replace(microsecond=0)
    alert_ms = settings.NOTIFIER_LAG_ALERT_SECONDS * 1000
    on_time_due = now - timedelta(minutes=15)
    on_time = CanaryRun.objects.create(due_at=on_time_due, published_at=on_time_due,
                                       received_at=on_time_due + timedelta(milliseconds=240), lag_ms=240,
                                       state=CanaryRun.State.RECEIVED)  # fmt: skip
    late_due = now - timedelta(minutes=10)
    CanaryRun.objects.create(due_at=late_due, published_at=late_due, lag_ms=alert_ms + 5000,
                             received_at=late_due + timedelta(milliseconds=alert_ms + 5000),
                             state=CanaryRun.State.RECEIVED)  # fmt: skip
    CanaryRun.objects.create(due_at=now - timedelta(minutes=5), state=CanaryRun.State.MISSING)

    staff_page.goto(DASHBOARD + "?window=1h")
    panel = staff_page.locator("#console-canary")
    expect(panel.locator('[data-metric="canary-interval"]')).to_have_text("300 s")
    late_seconds = (alert_ms + 5000) / 1000
    assert shown(staff_page, "canary-last-lag") == (f"{late_seconds} s", str(late_seconds))  # the last received
    assert shown(staff_page, "canary-last-success")[1] == on_time.received_at.isoformat()  # the last on time
    runs = panel.locator("#canary-runs tbody tr")
    expect(runs).to_have_count(3)
    expect(runs.nth(0)).to_contain_text("missing")  # newest first, marked
    expect(runs.nth(0)).to_have_class(re.compile(r"console-bad"))
    expect(runs.nth(2)).to_contain_text("0.24 s")


def test_the_canary_panel_says_when_the_canary_is_off(staff_page: Page, settings):
    settings.NOTIFIER_CANARY_INTERVAL_SECONDS = 0
    staff_page.goto(DASHBOARD + "?window=1h")
    assert shown(staff_page, "canary-status")[1] == "off"
