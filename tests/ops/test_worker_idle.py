"""What an idle worker wakes up for (config/worker_idle.py, issue 15): a real worker on a
Redis of its own announces its event heartbeat every 30 s (Flower reads the interval from
the event), renews its empty BRPOP every 20 s, not every second, and runs no gossip."""

import sys
import threading
import time
from types import SimpleNamespace

import pytest
import redis
from celery.concurrency.asynpool import AsynPool
from kombu.transport import redis as redis_transport

from config.celery_app import app
from config.worker_idle import (
    BROKER_BLOCKING_POP_SECONDS,
    EVENT_HEARTBEAT_SECONDS,
    UNACKED_RESTORE_SECONDS,
    QuietIdleWorker,
)
from tests.engine import engine_env
from tests.faults.rig import wait_until
from tests.ops.test_liveness import broker, start, stop  # noqa: F401 (broker is a fixture)


def blocking_pops(url: str, found: list[list[str]], seconds: float) -> None:
    """The first BRPOP the broker sees within ``seconds`` (MONITOR), split into words."""
    deadline = time.monotonic() + seconds
    with redis.Redis.from_url(url).monitor() as monitor:
        for command in monitor.listen():
            if command["command"].upper().startswith("BRPOP"):
                found.append(command["command"].split())
            if found or time.monotonic() > deadline:
                return


def worker_announcements(url: str, found: list[dict], seconds: float) -> None:
    """The first worker-online or worker-heartbeat event within ``seconds``."""

    def heard(event: dict) -> None:
        found.append(event)
        receiver.should_stop = True

    with app.connection_for_read(url) as connection:
        handlers = {"worker-online": heard, "worker-heartbeat": heard}
        receiver = app.events.Receiver(connection, handlers=handlers)
        receiver.capture(limit=None, timeout=seconds, wakeup=False)


@pytest.mark.django_db
def test_an_idle_worker_beats_every_30_s_renews_its_blocking_pop_every_20_s_and_gossips_not(tmp_path, broker):  # noqa: F811
    env = engine_env(REDIS_URL=broker, CELERY_BROKER_URL=broker, NOTIFIER_HEARTBEAT_DIR=str(tmp_path))
    pops: list[list[str]] = []
    announced: list[dict] = []
    # Both listen before the worker starts: its first BRPOP and its worker-online event
    # (if the receiver is not bound in time, its first heartbeat) say the same as later ones.
    listeners = [threading.Thread(target=blocking_pops, args=(broker, pops, 60)),
                 threading.Thread(target=worker_announcements, args=(broker, announced, 60))]  # fmt: skip
    for listener in listeners:
        listener.start()
    time.sleep(1)
    worker = start([sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "1", "-n", "idle@%h"],
                   env=env, log=tmp_path / "worker.log")  # fmt: skip
    try:
        for listener in listeners:
            listener.join()
        # The event says how often the worker beats: Flower marks it offline after twice that.
        assert announced and announced[0]["freq"] == EVENT_HEARTBEAT_SECONDS, announced
        assert pops and pops[0][-1] == str(BROKER_BLOCKING_POP_SECONDS), pops
        # kombu listens to a fanout exchange by a pattern subscription: remote control's
        # ("/0.celery.pidbox": Flower, celery inspect) and, with gossip, the events'
        # ("/0.celeryev/*"), both subscribed in the same turn of the worker's loop, which
        # may come after its first BRPOP. The test's own event receiver is going.
        client = redis.Redis.from_url(broker)
        wait_until(lambda: client.pubsub_numpat() == 1, 20, "one listener: remote control")
        time.sleep(1)
        assert client.pubsub_numpat() == 1
    finally:
        stop(worker)


class RecordingLoop:
    """What kombu's Redis transport asks of the worker's event loop when it joins it."""

    poller = None

    def __init__(self) -> None:
        self.on_tick: set = set()
        self.timers: dict[str, float] = {}

    def call_repeatedly(self, seconds: float, fun, *args, **kwargs) -> None:
        self.timers[fun.__name__] = seconds

    def add_reader(self, *args) -> None:
        pass


def test_the_worker_checks_unacked_messages_every_30_s_and_its_subscription_every_60_s(settings, monkeypatch):
    """kombu's fixed 10-s unacked-restore timer and its 25-s health check woke an idle worker
    504 times an hour; with the worker's steps built, its Redis transport sets 30 and 60 s."""
    for owner, name in ((redis_transport.Transport, "brpop_timeout"),
                        (redis_transport.Transport, "register_with_event_loop"), (AsynPool, "timers")):  # fmt: skip
        monkeypatch.setattr(owner, name, owner.__dict__[name])  # put back after: this is not a worker
    QuietIdleWorker(SimpleNamespace(options={}))
    client = SimpleNamespace(transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    loop = RecordingLoop()
    redis_transport.Transport(client=client).register_with_event_loop(SimpleNamespace(client=client), loop)
    assert loop.timers == {"maybe_restore_messages": UNACKED_RESTORE_SECONDS, "maybe_check_subclient_health": 60}
    assert UNACKED_RESTORE_SECONDS == 30
    paced = redis_transport.Transport.register_with_event_loop
    QuietIdleWorker(SimpleNamespace(options={}))  # built twice in one process: wrapped once
    assert redis_transport.Transport.register_with_event_loop is paced
