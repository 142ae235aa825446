"""The Flower wrapper refuses to run open and guards /metrics; wait_for_migrations
waits for a real migrate of an empty database."""

import subprocess
import sys
import time
import uuid

import psycopg
import pytest
import requests

from notifier.flower import authentication_problem
from scripts.services import ensure_database, with_database
from tests.engine import ROOT, database_url, engine_env
from tests.faults.rig import free_port, wait_until


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "set FLOWER_BASIC_AUTH"),
        ({"FLOWER_BASIC_AUTH": "  "}, "set FLOWER_BASIC_AUTH"),
        ({"FLOWER_BASIC_AUTH": "oncall"}, "user:password pairs"),
        ({"FLOWER_BASIC_AUTH": "oncall:pw,:nouser"}, "user:password pairs"),
        ({"FLOWER_BASIC_AUTH": "oncall:pw,second:pw2"}, None),
        ({"FLOWER_BASIC_AUTH": "oncall:pw\n"}, None),  # a secret file's trailing newline
        ({"FLOWER_AUTH": ".*@example.com"}, "needs FLOWER_AUTH_PROVIDER"),
        ({"FLOWER_AUTH": ".*@example.com", "FLOWER_AUTH_PROVIDER": "flower.views.auth.GithubLoginHandler"}, None),
    ],
)
def test_flower_authentication_settings(environ, problem):
    found = authentication_problem(environ)
    assert (found is None) if problem is None else (problem in found)


def test_flower_will_not_start_open():
    env = engine_env()
    env.pop("FLOWER_BASIC_AUTH", None)
    env.pop("FLOWER_AUTH", None)
    result = subprocess.run(
        [sys.executable, "-m", "notifier.flower"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "flower: set FLOWER_BASIC_AUTH (user:password[,user2:password2]) or FLOWER_AUTH: Flower would be open"
    ]


def test_flower_pages_and_metrics_want_basic_auth_and_its_healthcheck_does_not(tmp_path):
    port = free_port()
    log = tmp_path / "flower.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "notifier.flower", f"--port={port}", "--address=127.0.0.1"],
        cwd=ROOT, env=engine_env(FLOWER_BASIC_AUTH="oncall:pw-1\n"), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/healthcheck"), 60, f"Flower on {port}; see {log}")
        assert requests.get(f"{url}/healthcheck", timeout=5).text == "OK"
        for path in ("/", "/metrics", "/api/workers"):
            assert requests.get(url + path, timeout=5).status_code == 401, path
            assert requests.get(url + path, auth=("oncall", "wrong"), timeout=5).status_code == 401, path
        metrics = requests.get(f"{url}/metrics", auth=("oncall", "pw-1"), timeout=5)
        assert metrics.status_code == 200 and "flower_" in metrics.text
    finally:
        process.terminate()
        process.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_wait_for_migrations_waits_until_a_migrate_finishes():
    name = f"notifier_wait_{uuid.uuid4().hex[:8]}"
    url = with_database(database_url(), name)
    ensure_database(url)
    env = engine_env(DATABASE_URL=url)
    try:
        waiter = subprocess.Popen(
            [sys.executable, "manage.py", "wait_for_migrations", "--timeout", "120", "--interval", "0.5"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        time.sleep(3)
        assert waiter.poll() is None, waiter.stdout.read()
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=180)  # fmt: skip
        output, _ = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, output
        lines = output.strip().splitlines()
        assert lines[0].startswith("waiting: ") and "migration(s) not applied yet, first " in lines[0]
        assert lines[-1] == "every migration is applied"
    finally:
        with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_wait_for_migrations_gives_up_with_one_line_when_the_database_is_unreachable():
    env = engine_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/nowhere")
    result = subprocess.run(
        [sys.executable, "manage.py", "wait_for_migrations", "--timeout", "1", "--interval", "0.2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith("waiting: database not reachable: ")
    assert result.stderr.strip().splitlines()[-1].startswith("CommandError: gave up after 1 s: database not reachable")
