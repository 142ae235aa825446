"""Fault scenarios of issue 3, each against real processes it kills, restarts or cuts
off. Each prints lost=, duplicated=, stale= and worst_lag_s= (also in the summary)."""

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.utils import timezone

from delivery.models import DeliveryAttempt, Notification, NotificationState
from events.models import Event, Topic
from notifier.locks import PLAN_LOCK_NAME
from notifier.planning import plan_window
from tests.engine import ROOT, database_url
from tests.faults.rig import Rig, Tally, record, tally, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]

LEAD = 1  # minute


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def create_event(rig: Rig, topic: dict, due_in: float) -> dict:
    starts_at = timezone.now() + timedelta(minutes=topic["default_lead_minutes"], seconds=due_in)
    return rig.call("post", "events/", topic=topic["slug"], title="Fault", starts_at=iso(starts_at))


def live_rows(events: list[dict]) -> list[Notification]:
    return list(Notification.objects.filter(event_id__in=[e["id"] for e in events]).exclude(
        state__in=[NotificationState.SUPERSEDED, NotificationState.CANCELLED]))  # fmt: skip


def all_in_state(events: list[dict], state: str) -> bool:
    rows = live_rows(events)
    return len(rows) == len(events) and all(row.state == state for row in rows)


def assert_sent_once(events: list[dict]) -> list[Notification]:
    rows = live_rows(events)
    assert [row.state for row in rows] == [NotificationState.SENT] * len(events)
    for row in rows:  # the ledger records one successful publish per notification
        assert DeliveryAttempt.objects.filter(notification=row, outcome="sent").count() == 1
    return rows


def settle(inbox, events: list[dict], scenario: str, timeout: float = 60) -> Tally:
    """Wait for every event's message, linger for duplicates, count, record the figures."""
    inbox.wait_for(len(events), timeout=timeout)
    inbox.drain(3)
    result = tally(inbox, assert_sent_once(events))
    record(scenario, result.line())
    return result


def held_by_the_worker(rig: Rig, topic: dict, due_in: list[float]) -> list[dict]:
    """Events armed on creation whose ETA tasks the worker has received and holds."""
    events = [create_event(rig, topic, seconds) for seconds in due_in]
    wait_until(lambda: all_in_state(events, "armed"), 10, "arming")
    wait_until(lambda: rig.worker.text().count("notifier.fire[") >= len(events), 10, "the worker to hold the tasks")
    return events


def test_a_worker_sigkilled_while_holding_eta_tasks(rig):
    topic, inbox = rig.topic()
    events = held_by_the_worker(rig, topic, [6 + i for i in range(5)])
    rig.worker.signal(signal.SIGKILL)
    rig.worker.process.wait()
    rig.worker = rig.start_worker("worker-2")
    result = settle(inbox, events, "a. worker SIGKILLed holding ETA tasks")
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)
    assert result.worst_lag_s <= 30


def test_b_redis_restarted_empty_after_arming(rig):
    topic, inbox = rig.topic()
    events = held_by_the_worker(rig, topic, [6 + i for i in range(5)])
    rig.redis.kill()  # no persistence: every queued and unacked message is gone
    rig.redis.start()
    result = settle(inbox, events, "b. Redis restarted empty after arming")
    # Celery 5.7.0 died here ("Unrecoverable error", decision 0003): the worker must ride it out.
    assert rig.worker.process.poll() is None and "Unrecoverable error" not in rig.worker.text()
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)
    assert result.worst_lag_s <= 30


def test_c_sns_throttling_and_5xx_are_retried_and_a_permanent_error_is_not(rig):
    topic, inbox = rig.topic()
    rig.sns.fail_next = ["throttling", "internal", "throttling"]
    events = [create_event(rig, topic, 3)]
    denied_topic, denied_inbox = rig.topic()
    rig.sns.denied_topics.add(Topic.objects.get(slug=denied_topic["slug"]).sns_topic_arn)
    denied = [create_event(rig, denied_topic, 3)]
    inbox.wait_for(1, timeout=40)
    wait_until(lambda: all_in_state(denied, "failed"), 20, "the permanent failure")
    inbox.drain(2)
    rows = assert_sent_once(events)
    outcomes = list(DeliveryAttempt.objects.filter(notification=rows[0]).values_list("outcome", flat=True))
    assert outcomes == ["transient_error", "transient_error", "transient_error", "sent"]
    assert rows[0].sent_at < rows[0].deadline
    failed = live_rows(denied)[0]
    assert failed.attempts == 1 and failed.last_error.startswith("permanent error: AuthorizationError")
    assert denied_inbox.drain(1) == []
    result = tally(inbox, rows)
    record("c. SNS throttling/500 x3 then ok; permanent error", f"{result.line()} retries=3 permanent_attempts=1")
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)


def test_c2_one_entry_of_a_batch_throttled_and_one_refused(rig):
    """Five notifications due together go out in one PublishBatch; SNS answers per entry."""
    topic, inbox = rig.topic()
    starts_at = timezone.now() + timedelta(minutes=LEAD, seconds=5)
    created = Event.objects.bulk_create(  # no on-save plan: one plan, then beat's arm pass takes all five
        Event(topic=Topic.objects.get(slug=topic["slug"]), title=f"Batch {n}", starts_at=starts_at) for n in range(5)
    )
    events = [{"id": event.pk} for event in created]
    plan_window(hours=1)
    rows = sorted(live_rows(events), key=lambda row: row.pk)
    throttled, refused = rows[0], rows[1]
    rig.sns.fail_entries = {str(throttled.pk): "throttling", str(refused.pk): "authorization"}
    inbox.wait_for(4, timeout=40)
    wait_until(lambda: Notification.objects.get(pk=refused.pk).state == "failed", 20, "the refused entry to fail")
    inbox.drain(2)
    sent = assert_sent_once([event for event in events if event["id"] != refused.event_id])
    attempts = {row.pk: row.attempts for row in sent}
    assert attempts.pop(throttled.pk) == 2 and set(attempts.values()) == {1}
    refused.refresh_from_db()
    assert refused.attempts == 1 and refused.last_error.startswith("permanent error: AuthorizationError")
    result = tally(inbox, sent)
    record("c2. one batch entry throttled, one refused", f"{result.line()} batch_entries=5 failed=1")
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)


def test_d_database_connection_dropped_while_publishing(rig):
    topic, inbox = rig.topic()
    fired = threading.Event()

    def cut_the_workers_database_connections() -> None:
        if fired.is_set():
            return
        fired.set()
        with psycopg.connect(database_url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'worker%%'"
            )

    rig.sns.on_publish = cut_the_workers_database_connections
    rig.sns.latency = 0.5
    events = [create_event(rig, topic, 3)]
    inbox.wait_for(1, timeout=40)
    wait_until(lambda: all_in_state(events, "sent"), 20, "the ledger to record the send")
    inbox.drain(3)
    assert fired.is_set()
    rows = assert_sent_once(events)
    assert "database lost while firing" in rig.worker.text()
    result = tally(inbox, rows)
    record("d. PostgreSQL connections cut mid-publish", result.line())
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)
    assert rig.sns.publishes == 1  # recorded after reconnecting, never re-published


def manage(rig: Rig, name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=rig.env(name),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_e_three_pods_plan_at_once_and_a_slow_lock_owner_never_frees_a_successor(rig):
    topic, inbox = rig.topic()
    db_topic = Topic.objects.get(slug=topic["slug"])
    now = timezone.now()
    created = Event.objects.bulk_create(  # no on-save plan: only the three planners plan these
        Event(topic=db_topic, title=f"E{i}", starts_at=now + timedelta(minutes=LEAD, seconds=15 + i % 10))
        for i in range(300)
    )
    # A day's worth more, due after the arm horizon: planned, not sent; it makes the plan
    # long enough that the three planners really overlap on the lock.
    Event.objects.bulk_create(
        Event(topic=db_topic, title=f"L{i}", starts_at=now + timedelta(hours=2, seconds=i / 10)) for i in range(20_000)
    )
    planners = [manage(rig, f"planner-{n}", "plan_notifications", "--hours", "3") for n in range(3)]
    outputs = [p.communicate(timeout=60)[0] for p in planners]
    planned = sorted(int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("planned"))
    skipped = sum("skipped" in out for out in outputs)
    assert all(p.returncode == 0 for p in planners), outputs
    # One row per event whoever planned it (the arm pass's catch-up may take some of the
    # 300 due soon); the 20,000 far ones only the planners could plan.
    assert Notification.objects.filter(event__topic=db_topic).count() == 20_300
    assert 20_000 <= sum(planned) <= 20_300, outputs

    slow_owner = (  # takes a 300 ms lease, is slow for 1 s, then releases
        "import time, redis; from notifier.locks import RedisLock;"
        f"lock = RedisLock(redis.Redis.from_url('{rig.redis.url}'), '{PLAN_LOCK_NAME}', 300); assert lock.acquire();"
        "time.sleep(1.0); print('released', lock.release())"
    )
    owner = subprocess.Popen([sys.executable, "-c", slow_owner], cwd=ROOT, env=rig.env("slow-owner"),
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(0.6)  # its lease has expired: a successor takes the lock
    successor = rig.redis.client()
    assert successor.set(PLAN_LOCK_NAME, "successor", nx=True, px=5000)
    assert owner.communicate(timeout=10)[0].strip() == "released False"
    assert successor.get(PLAN_LOCK_NAME) == b"successor"  # the slow owner did not delete it

    events = [{"id": e.pk} for e in created]
    inbox.wait_for(300, timeout=60)
    assert Notification.objects.filter(event__topic=db_topic, state="planned").count() == 20_000
    inbox.drain(3)
    result = tally(inbox, assert_sent_once(events))
    record("e. plan on 3 processes at once; slow lock owner", f"{result.line()} plans={planned} skipped={skipped}")
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)


def test_f_moves_and_cancels_while_planned_armed_and_being_sent(rig):
    topic, inbox = rig.topic()
    planned = create_event(rig, topic, 30 * 60)  # due in half an hour: planned, not armed
    armed = create_event(rig, topic, 5)
    cancelled = create_event(rig, topic, 5)
    wait_until(lambda: all_in_state([armed, cancelled], "armed"), 10, "arming")
    old_keys = {row.key for row in live_rows([planned, armed, cancelled])}
    for event in (planned, armed):
        new_start = timezone.now() + timedelta(minutes=LEAD, seconds=9)
        rig.call("patch", f"events/{event['id']}/", starts_at=iso(new_start))
    rig.call("post", f"events/{cancelled['id']}/cancel/")

    # Being sent: the publish is held 1.5 s at the proxy while the event is moved.
    publishing = threading.Event()
    rig.sns.on_publish = publishing.set
    rig.sns.latency = 1.5
    in_flight = create_event(rig, topic, 2)
    assert publishing.wait(15)
    moved_at = time.monotonic()
    rig.call("patch", f"events/{in_flight['id']}/", starts_at=iso(timezone.now() + timedelta(minutes=LEAD, seconds=12)))
    move_waited = time.monotonic() - moved_at
    move_committed_ms = time.time() * 1000
    rig.sns.on_publish, rig.sns.latency = None, 0.0

    inbox.wait_for(4, timeout=40)
    inbox.drain(4)
    sent = list(Notification.objects.filter(event_id__in=[e["id"] for e in (planned, armed, cancelled, in_flight)],
                                            state=NotificationState.SENT))  # fmt: skip
    counts = inbox.counts()
    # The in-flight publish went out before the move committed (the move waited for it);
    # everything else that was moved or cancelled never went out under its old key.
    before_move = [m for m in inbox.messages if m.key in old_keys | {sent_row.key for sent_row in sent}]
    late_old = [m for m in inbox.messages if m.key in old_keys]
    assert late_old == []
    assert len(sent) == 4 and all(counts.get(row.key) == 1 for row in sent)
    first_in_flight = min(m.sent_ms for m in inbox.messages if m.notification_id in {r.pk for r in sent}
                          and Notification.objects.get(pk=m.notification_id).event_id == in_flight["id"])  # fmt: skip
    assert first_in_flight <= move_committed_ms
    assert move_waited >= 0.5  # the move waited for the publish holding the event row
    assert Notification.objects.get(event_id=cancelled["id"]).state == NotificationState.CANCELLED
    result = tally(inbox, sent)
    record("f. moved/cancelled while planned, armed, being sent",
           f"{result.line()} move_waited_for_publish_s={move_waited:.2f} messages={len(before_move)}")  # fmt: skip
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)


def test_g_warm_restart_of_the_worker_holding_eta_tasks(rig):
    topic, inbox = rig.topic()
    events = held_by_the_worker(rig, topic, [8 + i * 0.5 for i in range(5)])
    rig.worker.process.send_signal(signal.SIGTERM)  # what Kubernetes sends in a rolling deploy
    replacement = rig.start_worker("worker-2")
    rig.worker.process.wait(timeout=30)
    rig.worker = replacement
    result = settle(inbox, events, "g. warm restart (SIGTERM) holding ETA tasks", timeout=40)
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)
    assert result.worst_lag_s <= 2.0  # on time: the tasks went back to Redis, not lost


@pytest.fixture
def rig_without_beat(request, moto_server, transactional_db):
    rig = Rig(moto_server, name=request.node.name)
    try:
        yield rig.start(beat=False)
    finally:
        rig.stop()


def test_h_beat_down_for_three_minutes_then_back(rig_without_beat):
    rig = rig_without_beat
    topic, inbox = rig.topic(lead=10)
    short, _ = rig.topic(lead=1)
    three_minutes_ago = timezone.now() - timedelta(minutes=3)
    db_topic, db_short = Topic.objects.get(slug=topic["slug"]), Topic.objects.get(slug=short["slug"])
    # As the nightly plan left them, then no arm pass ran for 3 minutes.
    catchable = Event.objects.bulk_create(
        Event(topic=db_topic, title="still ahead", starts_at=three_minutes_ago + timedelta(minutes=10, seconds=i))
        for i in range(3)
    )
    too_late = Event.objects.bulk_create(
        Event(topic=db_short, title="already started", starts_at=three_minutes_ago + timedelta(minutes=1, seconds=i))
        for i in range(2)
    )
    plan_window(hours=1, now=three_minutes_ago)
    assert Notification.objects.filter(state="planned").count() == 5

    rig.beat = rig.start_beat()  # beat is back
    inbox.wait_for(3, timeout=40)
    inbox.drain(2)
    wait_until(lambda: "ALERT notifications expired unsent" in rig.worker.text(), 20, "the expiry alert")
    sent = assert_sent_once([{"id": e.pk} for e in catchable])
    expired = Notification.objects.filter(event__in=too_late)
    assert [row.state for row in expired] == ["expired", "expired"]
    assert all("deadline passed" in row.last_error for row in expired)
    result = tally(inbox, sent)
    record("h. beat down 3 min, then back", f"{result.line()} expired_with_alert={len(expired)}")
    assert (result.lost, result.duplicated, result.stale) == (0, 0, 0)
    assert result.worst_lag_s <= 3 * 60 + 30  # sent as soon as beat came back
