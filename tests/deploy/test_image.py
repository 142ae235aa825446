"""The image test: build the real Dockerfile, run the chart's rendered workloads as
containers, and send a notification through them (issue 10).

Against the machine's PostgreSQL (a database of its own), a private Redis server and
the session's moto server: the migrate Job, then web, worker, beat, Flower and the inbox
consumer, each from its rendered command, environment and security context. Every
probe must pass; an event created through the containerised API must be armed by beat's
arm pass, published by the worker and reach an SQS queue exactly once; a SIGTERM to the
worker while it holds an armed notification must lose nothing.

What this does not prove: a real cluster (scheduling, Services, NetworkPolicies, the
kubelet itself), the official base image (a debootstrap stand-in, see podman.py), or
HPA and KEDA behaviour.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet

from scripts.services import ensure_database, with_database
from tests.aws import Inbox
from tests.deploy.chart import render_objects
from tests.deploy.podman import Podman, ensure_installed
from tests.deploy.pods import Container, Manifests, Pods
from tests.engine import LOG_DIR, ROOT
from tests.faults.rig import RedisServer, free_port, wait_until
from tests.figures import record

# Cold, the module's set-up installs podman, bootstraps the base and builds: minutes, not seconds.
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

LOGS = LOG_DIR / "image"
PODMAN_ROOT = Path(os.environ.get("NOTIFIER_PODMAN_ROOT", "/tmp/notifier-podman"))
TAG = "localhost/notifier:image-test"
ARM_HORIZON_SECONDS = 15  # short, so beat's arm pass (every 10 s) is what arms the test's events


@dataclass
class Release:
    pods: Pods
    manifests: Manifests
    containers: dict[str, Container]
    web: str
    flower: str
    secrets: dict[str, str]
    moto_url: str
    facts: dict[str, Any] = field(default_factory=dict)
    api: requests.Session = field(default_factory=requests.Session)

    def api_url(self, path: str) -> str:
        return f"{self.web}/api/v1/{path}"


def image_database_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not urlsplit(url).hostname:
        raise RuntimeError(f"the image test needs PostgreSQL over TCP (DATABASE_URL with a host), got {url!r}")
    return with_database(url, name)


def image_values(*, database_url: str, redis_url: str, moto_url: str, web_port: int, flower_port: int) -> dict:
    secret_env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "NOTIFIER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FLOWER_BASIC_AUTH": f"oncall:{secrets.token_urlsafe(12)}",
        "NOTIFIER_METRICS_TOKEN": secrets.token_urlsafe(24),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return {
        "image": {"repository": TAG.rsplit(":", 1)[0], "tag": TAG.rsplit(":", 1)[1], "pullPolicy": "Never"},
        "web": {"port": web_port, "replicas": 1},
        "flower": {"port": flower_port},
        "worker": {"replicas": 1},
        "env": {
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_COOKIES": "false",  # plain http on 127.0.0.1
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "NOTIFIER_ARM_HORIZON_SECONDS": str(ARM_HORIZON_SECONDS),
            "NOTIFIER_INBOX_WAIT_SECONDS": "5",
        },
        "secretEnv": secret_env,
    }


@pytest.fixture(scope="module")
def release(moto_server: str) -> Iterator[Release]:
    ensure_installed()
    podman = Podman(PODMAN_ROOT)
    base_seconds = podman.ensure_base_image()
    build_seconds = podman.build(tag=TAG, context=ROOT)
    record("image", f"base image stand-in {base_seconds:.0f} s (0 = cached), image build {build_seconds:.0f} s")

    database = f"notifier_image_{uuid.uuid4().hex[:8]}"
    database_url = image_database_url(database)
    ensure_database(database_url)
    redis = RedisServer(LOGS)
    redis.start()
    web_port, flower_port = free_port(), free_port()
    values = image_values(
        database_url=database_url, redis_url=redis.url, moto_url=moto_server, web_port=web_port,
        flower_port=flower_port,
    )  # fmt: skip
    manifests = Manifests(render_objects(values))
    pods = Pods(podman, manifests, TAG, LOGS)
    release = Release(
        pods, manifests, {}, f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{flower_port}",
        values["secretEnv"], moto_server,
    )  # fmt: skip
    try:
        start_release(release)
        yield release
    finally:
        for container in release.containers.values():
            pods.save_log(container)
        pods.remove_all()
        redis.kill()
        with psycopg.connect(with_database(database_url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def start_release(release: Release) -> None:
    """As ``helm install`` would: everything at once; the init containers hold the
    workloads until the migrate Job is done."""
    pods, manifests = release.pods, release.manifests
    web = manifests.workload("Deployment", "web")["spec"]["template"]["spec"]
    (waiting_init,) = web["initContainers"]
    early = pods.start(web, waiting_init, pod="web-early")
    time.sleep(3)
    release.facts["init_waited"] = pods.running(early)
    pods.save_log(early)
    release.facts["init_log_before_migrate"] = early.log.read_text()

    started = time.monotonic()
    job = manifests.workload("Job", "migrate")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    release.facts["migrate_exit"] = pods.run_to_completion(
        job["spec"]["template"]["spec"], migrate, pod="migrate", timeout=300
    )
    release.facts["migrate_seconds"] = time.monotonic() - started
    release.facts["init_exit"] = int(pods.podman("wait", early.name, timeout=60).stdout.strip())

    for name in ("web", "worker", "beat", "flower", "inbox"):
        (container,) = pods.start_pod(manifests.workload("Deployment", name), pod=name)
        release.containers[name] = container
    for container in release.containers.values():
        pods.wait_started(container)


def test_migrate_job_runs_while_the_workloads_wait_for_it(release: Release) -> None:
    assert release.facts["init_waited"], "the init container should wait while migrations are missing"
    assert "waiting:" in release.facts["init_log_before_migrate"]
    assert release.facts["migrate_exit"] == 0
    assert release.facts["init_exit"] == 0
    record("image", f"migrate Job {release.facts['migrate_seconds']:.1f} s")


def test_every_probe_of_every_workload_passes(release: Release) -> None:
    seen = []
    for name, container in release.containers.items():
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind in container.spec:
                seen.append(f"{name} {kind}: {release.pods.wait_probe(container, kind)[:60]}")
    # web: startup, liveness, readiness; worker, beat, inbox: startup, liveness; flower: liveness, readiness
    assert len(seen) == 11, seen
    record("image", f"{len(seen)} probes passed on 5 workloads")


def test_containers_run_as_the_image_user_under_tini_on_a_read_only_root(release: Release) -> None:
    for name, container in release.containers.items():
        assert release.pods.exec(container, "id", "-u") == (0, "10001\n"), name
        code, cmdline = release.pods.exec(container, "cat", "/proc/1/cmdline")
        assert code == 0 and cmdline.split("\0")[0].endswith("tini"), f"{name}: PID 1 is {cmdline!r}"
        code, output = release.pods.exec(container, "touch", "/app/written")
        assert code != 0 and "Read-only file system" in output, name
        assert release.pods.exec(container, "touch", "/tmp/written")[0] == 0, name


def test_the_image_holds_the_engine_and_no_secret(release: Release) -> None:
    inspected = release.pods.podman("image", "inspect", "--format", "{{json .Config.Env}}", TAG).stdout
    names = {item.split("=", 1)[0] for item in json.loads(inspected)}
    secret_keys = set(release.secrets) | {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    assert names.isdisjoint(secret_keys), names & secret_keys
    assert release.pods.podman("image", "inspect", "--format", "{{.Config.User}}", TAG).stdout.strip() == "10001:10001"
    # The .dockerignore allow-list: no .env, .git, .venv, .run, tests or scripts slip in.
    code, listing = release.pods.exec(release.containers["web"], "ls", "-A", "/app")
    assert code == 0
    assert set(listing.split()) == {
        "manage.py", "requirements.txt", "config", "accounts", "events", "subscriptions", "delivery", "notifier",
        "staticfiles",
        "__pycache__",  # manage.py's byte code, compiled at build time
    }  # fmt: skip


def test_flower_and_metrics_require_their_credentials(release: Release) -> None:
    user, password = release.secrets["FLOWER_BASIC_AUTH"].split(":", 1)
    for path in ("/", "/metrics", "/api/workers"):
        assert requests.get(release.flower + path, timeout=5).status_code == 401, path
    assert requests.get(release.flower + "/metrics", auth=(user, password), timeout=5).status_code == 200
    metrics = f"{release.web}/metrics"
    assert requests.get(metrics, timeout=5).status_code == 401
    assert requests.get(metrics, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    token = release.secrets["NOTIFIER_METRICS_TOKEN"]
    reply = requests.get(metrics, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert reply.status_code == 200 and "notifier_live_notifications" in reply.text


def operator_api(release: Release) -> requests.Session:
    """The first operator, created as NOTES.txt says (exec createsuperuser in the web pod)."""
    if "Authorization" not in release.api.headers:
        password = secrets.token_urlsafe(16)
        code, output = release.pods.exec(
            release.containers["web"], "python", "manage.py", "createsuperuser", "--noinput",
            "--username", "operator", "--email", "operator@example.com", env={"DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        assert code == 0, output
        reply = requests.post(
            release.api_url("auth/token/"), json={"username": "operator", "password": password}, timeout=10
        )
        assert reply.status_code == 200, reply.text
        release.api.headers["Authorization"] = f"Token {reply.json()['token']}"
    return release.api


def create_event(release: Release, *, due_in: float) -> tuple[dict, Inbox]:
    api = operator_api(release)
    slug = f"image-{uuid.uuid4().hex[:8]}"
    topic = api.post(release.api_url("topics/"), json={"slug": slug, "name": slug}, timeout=10)
    assert topic.status_code == 201, topic.text
    inbox = Inbox(topic.json()["sns_topic_arn"])
    starts_at = datetime.now(UTC) + timedelta(seconds=60 + due_in)
    event = api.post(
        release.api_url("events/"),
        json={"topic": slug, "title": f"Kick-off {slug}", "starts_at": starts_at.isoformat(), "lead_minutes": 1},
        timeout=10,
    )
    assert event.status_code == 201, event.text
    return event.json(), inbox


def notifications(release: Release, event: dict) -> list[dict]:
    reply = release.api.get(release.api_url(f"events/{event['id']}/notifications/"), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


def test_an_event_goes_through_the_containers_exactly_once(release: Release) -> None:
    event, inbox = create_event(release, due_in=ARM_HORIZON_SECONDS + 20)
    (planned,) = notifications(release, event)
    assert planned["state"] == "planned", "due beyond the arm horizon: beat's arm pass must arm it, not the API"
    wait_until(lambda: notifications(release, event)[0]["state"] == "armed", 45, "beat's arm pass", step=1)
    received = inbox.wait_for(1, timeout=60)
    inbox.drain(5)  # anything sent twice would arrive by now
    (sent,) = notifications(release, event)
    assert [m.key for m in received] == [sent["key"]]
    assert sent["state"] == "sent" and sent["attempts"] == 1
    record("image", f"1 notification through the containers: received once, lag {received[0].lag_seconds():.2f} s "
                    f"(ledger lag_ms {sent['lag_ms']})")  # fmt: skip


def fire_tasks(pods: Pods, worker: Container, outcome: str) -> list[str]:
    """Ids of the fire tasks the worker's log shows as ``received`` or ``succeeded``."""
    pods.save_log(worker)
    pattern = re.compile(rf"Task notifier\.fire\[([0-9a-f-]+)\] {outcome}")
    return pattern.findall(worker.log.read_text())


def held_fire_tasks(pods: Pods, worker: Container) -> set[str]:
    return set(fire_tasks(pods, worker, "received")) - set(fire_tasks(pods, worker, "succeeded"))


def test_sigterm_to_the_worker_holding_a_notification_loses_nothing(release: Release) -> None:
    pods = release.pods
    event, inbox = create_event(release, due_in=ARM_HORIZON_SECONDS + 15)
    wait_until(lambda: notifications(release, event)[0]["state"] == "armed", 45, "beat's arm pass", step=0.5)
    worker = release.containers["worker"]
    wait_until(lambda: held_fire_tasks(pods, worker), 10, "the worker to hold the fire task")
    (held_task,) = held_fire_tasks(pods, worker)
    code, took = pods.stop(worker)
    assert code == 0, f"the worker should exit cleanly on SIGTERM (warm shutdown), got {code}"
    assert took < worker.pod_spec["terminationGracePeriodSeconds"], "SIGKILLed at the end of its grace period"
    assert "Restoring 1 unacknowledged message(s)" in worker.log.read_text(), "the held task goes back to Redis"
    (held,) = notifications(release, event)
    assert held["state"] == "armed", "nothing may be sent while no worker runs"

    (replacement,) = pods.start_pod(release.manifests.workload("Deployment", "worker"), pod="worker-2")
    release.containers["worker"] = replacement
    pods.wait_started(replacement)
    received = inbox.wait_for(1, timeout=90)
    inbox.drain(5)
    (sent,) = notifications(release, event)
    assert [m.key for m in received] == [sent["key"]]
    assert sent["state"] == "sent"
    assert held_task in fire_tasks(pods, replacement, "succeeded"), "the restored task ran on the new worker"
    record("image", f"worker SIGTERM: exited 0 in {took:.1f} s holding 1 armed notification; a new worker sent it "
                    f"once, lag {received[0].lag_seconds():.2f} s")  # fmt: skip
