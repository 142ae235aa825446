"""An idle inbox consumer leaves SQS alone until something is published (issue 15,
decision 0021): real Redis pub/sub, moto's SNS → SQS, the consumer on threads as the
``consume_inbox`` command runs it."""

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection

from delivery import inbox_wake
from delivery.inbox import InboxConsumer
from delivery.inbox_wake import InboxAlarm, inbox_wake_publish, wake_channel
from delivery.models import InboxMessage
from notifier.firing import fire
from subscriptions.models import Subscription
from tests.faults.rig import wait_until
from tests.ids import unique_slug
from tests.integration.test_firing import armed_row

pytestmark = pytest.mark.django_db(transaction=True)  # the consumer thread reads what the test commits


@pytest.fixture(autouse=True)
def own_inbox_queue(settings):
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")


@pytest.fixture
def short_awake(monkeypatch):
    """Awake one second after a wake; the listener turns (and sees a stop) every 0.1 s."""
    monkeypatch.setattr(inbox_wake, "AWAKE_SECONDS", 1.0)
    monkeypatch.setattr(inbox_wake, "LISTEN_TURN_SECONDS", 0.1)
    monkeypatch.setattr(inbox_wake, "_last_told", -inbox_wake.WAKE_EVERY_SECONDS)


class CountingConsumer(InboxConsumer):
    """The real consumer, counting its SQS polls."""

    polls = 0

    def poll_once(self) -> int:
        self.polls += 1
        return super().poll_once()


@pytest.fixture
def running(short_awake) -> Iterator[tuple[InboxAlarm, CountingConsumer]]:
    stop = threading.Event()
    alarm = InboxAlarm(stop=stop, idle_poll_seconds=3600)
    consumer = CountingConsumer(fifo=False, wait_seconds=1, stop=stop, alarm=alarm)

    def consume() -> None:
        try:
            consumer.run()
        finally:
            connection.close()  # the thread's own: the test database is dropped after

    threads = [threading.Thread(target=alarm.listen), threading.Thread(target=consume)]
    for thread in threads:
        thread.start()
    try:
        yield alarm, consumer
    finally:
        stop.set()
        alarm.release()
        for thread in threads:
            thread.join(timeout=15)
        assert not any(thread.is_alive() for thread in threads), "a stopped consumer must end its threads"


def asleep(alarm: InboxAlarm, consumer: InboxConsumer) -> bool:
    return not alarm.should_poll(now=time.monotonic(), last_poll=consumer.last_poll)


def test_an_idle_consumer_sleeps_and_a_fire_wakes_it_to_deliver(running, django_user_model):
    alarm, consumer = running
    row = armed_row()
    Subscription.objects.create(user=django_user_model.objects.create_user("ann"), topic=row.event.topic,
                                channel="in_app")  # fmt: skip
    wait_until(lambda: asleep(alarm, consumer), 10, "the consumer to fall asleep after start-up")
    polls = consumer.polls
    time.sleep(1.5)
    assert consumer.polls <= polls + 1, "asleep, it polled SQS"  # a poll under way when it fell asleep
    turned = consumer.last_turn
    time.sleep(0.5)
    assert consumer.last_turn == turned, "asleep, its loop turned (it waits for a wake or its idle poll)"
    assert consumer.is_turning(now=time.monotonic() + 3600), "asleep is not hung: its liveness holds"

    assert fire(notification_ids=[row.pk]).sent == [row.pk]  # publishes, then tells the consumers
    wait_until(lambda: InboxMessage.objects.filter(notification=row).exists(), 10, "the woken consumer to deliver")
    assert consumer.polls > polls + 1


def test_a_wake_for_another_queue_or_redis_database_does_not_wake_it(running, settings):
    alarm, consumer = running
    wait_until(lambda: asleep(alarm, consumer), 10, "the consumer to fall asleep after start-up")
    assert wake_channel().endswith(f":{settings.NOTIFIER_INBOX_QUEUE_NAME}")
    ours = settings.NOTIFIER_INBOX_QUEUE_NAME
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("other")  # another deployment's inbox, same Redis
    inbox_wake_publish()
    time.sleep(1)
    assert asleep(alarm, consumer)
    settings.NOTIFIER_INBOX_QUEUE_NAME = ours
    inbox_wake._last_told = -inbox_wake.WAKE_EVERY_SECONDS
    inbox_wake_publish()
    wait_until(lambda: not asleep(alarm, consumer), 5, "our own wake to wake it")


def test_without_redis_it_polls_all_the_time(settings, short_awake):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    inbox_wake._client.cache_clear()
    stop = threading.Event()
    alarm = InboxAlarm(stop=stop, idle_poll_seconds=3600)
    listener = threading.Thread(target=alarm.listen)
    listener.start()
    try:
        time.sleep(2)  # past the awake window: only deafness keeps it polling
        assert alarm.should_poll(now=time.monotonic(), last_poll=time.monotonic())
        inbox_wake_publish()  # a publisher without Redis logs and goes on
    finally:
        stop.set()
        listener.join(timeout=15)
        inbox_wake._client.cache_clear()


def test_the_safety_net_poll_and_zero_meaning_always():
    alarm = InboxAlarm(stop=threading.Event(), idle_poll_seconds=300)
    later = time.monotonic() + inbox_wake.AWAKE_SECONDS + 1  # past the start-up window
    assert not alarm.should_poll(now=later, last_poll=later - 299)
    assert alarm.should_poll(now=later, last_poll=later - 300)
    always = InboxAlarm(stop=threading.Event(), idle_poll_seconds=0)
    assert always.should_poll(now=later, last_poll=later)


def test_a_stop_ends_a_sleeping_consumer_and_its_listener_at_once(monkeypatch):
    """At the real turns (20 s): SIGTERM must not wait for them (the pod's grace period)."""
    monkeypatch.setattr(inbox_wake, "AWAKE_SECONDS", 0.0)  # asleep from the start
    stop = threading.Event()
    alarm = InboxAlarm(stop=stop, idle_poll_seconds=3600)
    consumer = InboxConsumer(fifo=False, wait_seconds=1, stop=stop, alarm=alarm)
    threads = [threading.Thread(target=alarm.listen), threading.Thread(target=consumer.run)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # subscribed and asleep
    stopped = time.monotonic()
    stop.set()
    alarm.release()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert time.monotonic() - stopped < 2
