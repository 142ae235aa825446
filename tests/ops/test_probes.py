"""/healthz, /readyz and /metrics: answered whatever the Host, readiness naming the
dependency that failed (against real dead endpoints), /metrics behind its token."""

import json
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.engine import engine_env
from tests.faults.rig import free_port

POD_HOST = "10.244.3.9:8000"  # what the kubelet sends: the pod IP, in no ALLOWED_HOSTS


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST=POD_HOST)


def test_liveness_answers_any_host_without_touching_dependencies(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_answers_any_host_when_postgresql_and_redis_answer(client, redis):
    reply = client.get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "checks": {"postgresql": "ok", "redis": "ok"}}


def test_the_host_agnostic_middleware_comes_before_any_that_reads_the_host():
    assert settings.MIDDLEWARE[0] == "notifier.middleware.HostAgnosticRoutesMiddleware"


def test_other_paths_still_refuse_a_foreign_host(client):
    assert client.get("/api/v1/").status_code == 400
    assert client.get("/admin/login/").status_code == 400
    assert client.get("/healthz/").status_code == 400  # only the exact probe paths skip the check


def readiness_in_subprocess(**env: str) -> tuple[int, dict, float]:
    """GET /readyz in a fresh process whose settings point at ``env``'s servers:
    (status, body, seconds the request took)."""
    script = (
        "import django, json, time; django.setup(); from django.test import Client; "
        f"c = Client(HTTP_HOST={POD_HOST!r}); t = time.monotonic(); r = c.get('/readyz'); "
        "print(r.status_code, round(time.monotonic() - t, 3), json.dumps(r.json()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=engine_env(**env), capture_output=True, text=True, timeout=60, check=True
    )
    status, took, body = result.stdout.strip().splitlines()[-1].split(" ", 2)
    return int(status), json.loads(body), float(took)


@pytest.mark.django_db
def test_readiness_is_503_naming_redis_when_redis_is_down():
    dead = f"redis://127.0.0.1:{free_port()}/9"
    status, body, _ = readiness_in_subprocess(REDIS_URL=dead, CELERY_BROKER_URL=dead)
    assert status == 503
    assert body["failed"] == ["redis"] and body["checks"]["postgresql"] == "ok"
    assert body["checks"]["redis"] == "failed: ConnectionError"


@pytest.mark.django_db
def test_readiness_is_503_naming_postgresql_without_revealing_where_it_is():
    port = free_port()
    status, body, _ = readiness_in_subprocess(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/notifier")
    assert status == 503
    assert body["failed"] == ["postgresql"] and body["checks"]["redis"] == "ok"
    assert str(port) not in json.dumps(body)  # hosts and ports go to the log only


@pytest.mark.django_db
def test_readiness_answers_within_its_budget_when_postgresql_hangs():
    """A server that accepts the connection and never speaks (a black hole) outlasts the
    5 s connect timeout; /readyz still answers 503 within its 3 s budget."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        status, body, took = readiness_in_subprocess(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/notifier")
    assert status == 503 and body["checks"]["postgresql"] == "failed: timeout", body
    assert body["checks"]["redis"] == "ok"
    assert 2.5 < took < 4.0, took  # the 3 s budget, not the 5 s connect timeout


@pytest.mark.django_db
def test_readiness_checks_a_separate_broker_too():
    dead = f"redis://127.0.0.1:{free_port()}/9"
    status, body, _ = readiness_in_subprocess(CELERY_BROKER_URL=dead)
    assert status == 503 and body["failed"] == ["broker"] and body["checks"]["redis"] == "ok"


@pytest.mark.django_db
def test_metrics_are_open_without_a_token_setting(client):
    with override_settings(NOTIFIER_METRICS_TOKEN=""):
        reply = client.get("/metrics")
    assert reply.status_code == 200 and b"notifier_live_notifications" in reply.content


@pytest.mark.django_db
def test_metrics_want_the_bearer_token_when_it_is_set(client):
    with override_settings(NOTIFIER_METRICS_TOKEN="s3cret-token"):
        missing = client.get("/metrics")
        wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-tokem")
        basic = client.get("/metrics", HTTP_AUTHORIZATION="Basic czNjcmV0LXRva2Vu")
        right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert b"notifier_" not in missing.content + wrong.content
    assert right.status_code == 200 and b"notifier_live_notifications" in right.content
