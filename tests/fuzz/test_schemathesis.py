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
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.engine import ROOT
from tests.factories import make_event, make_topic

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1200)]

SCHEMATHESIS_VERSION = "4.32.5"
VENV = ROOT / ".run" / "schemathesis-venv"
CLI = VENV / "bin" / "schemathesis"
MARKER = VENV / "notifier-schemathesis-version"  # written only after a complete install

SEED = 20261122
MAX_EXAMPLES = 20  # per operation and phase: bounded, so CI stays within minutes
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


def fuzz(base_url: str, token: str, report: Path) -> Counter:
    """One bounded run; returns the failures by check name (from the JUnit report)."""
    command = [
        str(schemathesis_cli()), "run", f"{base_url}/api/schema/",
        "--header", f"Authorization: Token {token}",
        "--checks", CHECKS,
        "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1", "--generation-database", "none", "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
        "--request-timeout", "20",
    ]  # fmt: skip
    run = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, cwd=report.parent
    )
    print(run.stdout[-6000:])
    assert report.exists(), f"schemathesis wrote no report (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    return failures_by_check(report.read_text()), run


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


@pytest.fixture
def fuzz_users(transactional_db):
    users = get_user_model().objects
    staff = users.create_user("fuzz-staff", password="Fuzz-staff-pw-2026!", is_staff=True)
    plain = users.create_user("fuzz-user", password="Fuzz-user-pw-2026!")
    topic = make_topic()
    make_event(topic, starts_in=timedelta(hours=3))
    make_event(topic, starts_at=timezone.now() + timedelta(days=2))
    return {"staff": (staff, "Fuzz-staff-pw-2026!"), "user": (plain, "Fuzz-user-pw-2026!")}


@pytest.mark.parametrize("who", ["staff", "user"])
def test_fuzzing_the_schema_finds_no_server_error_and_no_schema_violation(live_server, fuzz_users, who, tmp_path):
    user, password = fuzz_users[who]
    token = obtain_token(live_server.url, user.username, password)
    failures, run = fuzz(live_server.url, token, tmp_path / "junit.xml")
    summary = [line for line in run.stdout.splitlines() if "test cases" in line or "passed" in line.lower()]
    print(f"schemathesis as {who}: failures by check {dict(failures)}; {summary[-3:]}")
    assert failures == Counter(), run.stdout[-8000:]
