"""The API fuzzed from its own OpenAPI schema: schemathesis against a live server on the
test database, as a staff user and as an ordinary user, with a fixed seed.

Every response must be no server error and must match the schema (status code, content
type, body). schemathesis pins its own dependencies, so it lives in its own virtualenv,
``.run/schemathesis-venv``, installed once by this module; a failed install fails the
test with pip's output, never skips it. ``make fuzz`` runs it (and ``.ci/run``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from tests.engine import ROOT
from tests.factories import make_event, make_topic

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1200)]

SCHEMATHESIS_VERSION = "4.32.5"
VENV = ROOT / ".run" / "schemathesis-venv"
CLI = VENV / "bin" / "schemathesis"
MARKER = VENV / "notifier-schemathesis-version"  # written only after a complete install

SEED = 20261122
MAX_EXAMPLES = 10  # per operation and phase: bounded, so CI stays within minutes
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis_cli() -> Path:
    """The pinned CLI in its own venv, installed once (under a lock, for parallel runs)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "schemathesis-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if MARKER.exists() and MARKER.read_text() == SCHEMATHESIS_VERSION and CLI.exists():
            return CLI
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        install = subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"schemathesis=={SCHEMATHESIS_VERSION}"],
            capture_output=True,
            text=True,
        )
        assert install.returncode == 0, f"pip install schemathesis failed:\n{install.stdout}\n{install.stderr}"
        MARKER.write_text(SCHEMATHESIS_VERSION)
    return CLI


def obtain_token(base_url: str, username: str, password: str) -> str:
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()
    with urllib.request.urlopen(f"{base_url}/api/v1/auth/token/", data=body, timeout=10) as reply:
        return json.load(reply)["token"]


@dataclass
class Run:
    who: str
    exit_code: int
    stdout: str
    failures: Counter

    @property
    def generated(self) -> int:
        """Test cases run: a run that could not even load the schema generated none."""
        found = re.search(r"(\d+) generated", self.stdout)
        return int(found.group(1)) if found else 0


def fuzz_command(base_url: str, token: str, report: Path) -> list[str]:
    return [
        str(schemathesis_cli()), "run", f"{base_url}/api/schema/",
        "--header", f"Authorization: Token {token}",
        "--checks", CHECKS,
        "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1", "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
        "--request-timeout", "20",
        # The test server (Django's threaded live server) now and then drops a connection under
        # two clients at once: a network retry, not an API answer.
        "--request-retries", "2",
        # Logging out revokes the run's own token; tests/api/test_auth_api.py covers it.
        "--exclude-path-regex", "/auth/logout",
    ]  # fmt: skip


def fuzz_all(base_url: str, tokens: dict[str, str], workdir: Path) -> list[Run]:
    """One bounded run per user, side by side against the one live server (the coverage
    phase alone takes minutes a run); returns each run's failures by check."""
    schemathesis_cli()  # installed once, before the runs start
    started = {}
    for who, token in tokens.items():
        report = workdir / f"{who}.xml"
        command = fuzz_command(base_url, token, report)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "NO_COLOR": "1"}, cwd=workdir)  # fmt: skip
        started[who] = (process, report)
    runs = []
    for who, (process, report) in started.items():
        stdout, _ = process.communicate(timeout=1100)
        print(f"--- schemathesis as {who} ---\n{stdout[-5000:]}")
        assert report.exists(), f"schemathesis as {who} wrote no report (exit {process.returncode}):\n{stdout}"
        runs.append(Run(who, process.returncode, stdout, failures_by_check(report.read_text())))
    return runs


def failures_by_check(junit: str) -> Counter:
    """Failures of the run by schemathesis's check code and title, e.g. "ST101 Server error"."""
    counts: Counter = Counter()
    for case in ElementTree.fromstring(junit).iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            text = (failure.get("message") or "") + "\n" + (failure.text or "")
            counts.update(set(re.findall(r"^- (ST\d+ [^\n]+)$", text, flags=re.MULTILINE)) or {"error: " + text[:200]})
    return counts


@pytest.fixture(autouse=True)
def quiet_request_log():
    """The fuzzer's thousands of refused requests would each log a WARNING line."""
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    yield
    request_log.setLevel(level)


@pytest.fixture(autouse=True)
def generous_request_rates(monkeypatch):
    """Thousands of requests a minute would mostly meet the per-user and per-address 429
    (declared, tested in tests/api/test_limits_api.py) and test little else; the strict
    scopes (auth, verification) keep their configured rates."""
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "100000/min", "anon": "100000/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture
def fuzz_users(transactional_db):
    users = get_user_model().objects
    staff = users.create_user("fuzz-staff", password="Fuzz-staff-pw-2026!", is_staff=True)
    plain = users.create_user("fuzz-user", password="Fuzz-user-pw-2026!")
    topic = make_topic()
    make_event(topic, starts_in=timedelta(hours=3))
    make_event(topic, starts_at=timezone.now() + timedelta(days=2))
    return {"staff": (staff, "Fuzz-staff-pw-2026!"), "user": (plain, "Fuzz-user-pw-2026!")}


def test_fuzzing_the_schema_finds_no_server_error_and_no_schema_violation(live_server, fuzz_users, tmp_path):
    tokens = {
        who: obtain_token(live_server.url, user.username, password) for who, (user, password) in fuzz_users.items()
    }
    runs = fuzz_all(live_server.url, tokens, tmp_path)
    for run in runs:
        print(f"schemathesis as {run.who}: {run.generated} cases, failures by check {dict(run.failures)}")
    assert {run.who: run.failures for run in runs} == {who: Counter() for who in tokens}
    assert all(run.generated >= 1000 and run.exit_code == 0 for run in runs), [(r.who, r.generated) for r in runs]
