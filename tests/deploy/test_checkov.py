"""checkov, offline, on the chart's rendered manifests (one scan per ``helm/notifier/ci/*-values.yaml``).

checkov pins many dependencies (boto3 among them) that clash with the project's pins, so it
is in neither requirements-dev.txt nor .venv. This module installs ``checkov==CHECKOV_VERSION``
into its own virtualenv, ``.run/checkov-venv`` (made with the interpreter running the tests),
once, and reuses it while it holds that version. A failed install fails the tests with pip's
output; it never skips them. checkov runs with ``--skip-download`` (no network), in a clean
environment and a scratch HOME and working directory, so no ``.checkov.yaml``, ``CKV_*``
variable or ``HELM_NAMESPACE`` (which passes CKV_K8S_21 by itself) changes what it reports.

Every failed check must be fixed in the chart or be in SKIPPED with its reason. Each scan must
also have passed at least MIN_PASSED checks and parsed every object, so a scan that silently
checks nothing fails.
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import (
    CI_NAMES,
    ROOT,
    ci_values,
    component_of,
    containers,
    merged,
    render_objects,
    workloads,
)

# The first install into an empty venv (pip installs about 100 packages) can be slow on a cold cache.
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

CHECKOV_VERSION = "3.3.30"
VENV = ROOT / ".run" / "checkov-venv"
VENV_PYTHON = VENV / "bin" / "python"
CHECKOV = VENV / "bin" / "checkov"
INSTALLED_MARKER = VENV / "notifier-checkov-version"  # written only after a complete install

# Check id -> why the chart keeps failing it. One line each; keep this list short and true.
SKIPPED = {
    "CKV_K8S_43": "image digest: the chart pins one when image.digest is set (scanned below), but cannot force it",
    "CKV_K8S_15": "pullPolicy Always: IfNotPresent suits immutable tags and keeps pods starting when the registry "
    "is down; image.pullPolicy can say Always, and a digest passes this check (scanned below)",
    "CKV_K8S_35": "secrets as env vars: the engine reads DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY and the "
    "other secrets from its environment by design (envFrom the Secret), not from files",
    "CKV2_K8S_6": "NetworkPolicy: the peers to allow (ingress controller, Prometheus, PostgreSQL, Redis, AWS "
    "endpoints) are the cluster's, not the chart's; a guessed policy would break or allow everything",
    "CKV_K8S_9": "readiness probe of worker, beat and inbox: no Service sends them traffic, and their heartbeat "
    "startupProbe already holds Ready (so rollouts) until the first beat",
}
# Checks skipped only for some components' objects: everywhere else they must pass.
SKIPPED_ONLY_FOR = {"CKV_K8S_9": {"worker", "beat", "inbox"}}

MIN_PASSED = 200  # each ci values file passes about 500 checks; far fewer means checkov read almost nothing
# Custom resources checkov has no checks for: KEDA's and the Prometheus Operator's.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}
DIGEST = "sha256:" + "0123456789abcdef" * 4
DIGEST_SCAN = "defaults+image.digest"  # the defaults with image.digest set, to back the two skips above


# --- The virtualenv ---------------------------------------------------------------------


def installed_version() -> str | None:
    """The checkov version of .run/checkov-venv, or None when it is missing or half-built."""
    if not (VENV_PYTHON.exists() and CHECKOV.exists() and INSTALLED_MARKER.exists()):
        return None
    found = subprocess.run(
        [str(VENV_PYTHON), "-c", "import importlib.metadata as m; print(m.version('checkov'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    version = found.stdout.strip() if found.returncode == 0 else None
    return version if version == INSTALLED_MARKER.read_text().strip() else None


def tail(text: str, lines: int = 40, width: int = 400) -> str:
    """The last lines of a tool's output, each cut to width (pip prints every version in one line)."""
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in text.splitlines()[-lines:])


def install_checkov() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(VENV)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        pytest.fail(f"{sys.executable} -m venv {VENV} failed (exit {made.returncode}):\n{tail(made.stderr)}")
    pip = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=840,
    )
    if pip.returncode != 0:
        pytest.fail(
            f"pip install checkov=={CHECKOV_VERSION} into {VENV} failed (exit {pip.returncode}); "
            f"last lines of its output:\n{tail(pip.stdout)}"
        )
    INSTALLED_MARKER.write_text(CHECKOV_VERSION + "\n")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable of .run/checkov-venv, installed first when it is not there (or another version)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "checkov-venv.lock", "w") as lock:  # one installer at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version() != CHECKOV_VERSION:
            install_checkov()
            found = installed_version()
            if found != CHECKOV_VERSION:
                pytest.fail(f"{VENV} holds checkov {found} after installing checkov=={CHECKOV_VERSION}")
    return CHECKOV


# --- The scans --------------------------------------------------------------------------


def scan(checkov: Path, manifest: Path) -> dict[str, Any]:
    """checkov's JSON report on the one manifest file in manifest's directory."""
    workdir = manifest.parent.parent / f"{manifest.parent.name}-home"
    workdir.mkdir()
    env = {"PATH": f"{checkov.parent}:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
    argv = [str(checkov), "-d", str(manifest.parent), "--framework", "kubernetes", "--skip-download"]
    argv += ["--output", "json", "--quiet", "--soft-fail"]
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"checkov on {manifest.name} exited {done.returncode}:\n{tail(done.stderr)}\n{tail(done.stdout)}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov on {manifest.name} printed no JSON report:\n{tail(done.stdout)}\n{tail(done.stderr)}")
    if isinstance(report, list):  # one report per framework; only kubernetes was asked for
        (report,) = [each for each in report if each.get("check_type") == "kubernetes"]
    if "results" not in report:  # checkov's bare summary when it found nothing to check
        pytest.fail(f"checkov checked nothing in {manifest.name}: {report}")
    return report


@pytest.fixture(scope="module")
def scans(checkov, tmp_path_factory) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """{scan name: (rendered objects, checkov's report)}, one scan per ci values file plus DIGEST_SCAN."""
    values = {name: ci_values(name) for name in CI_NAMES}
    values[DIGEST_SCAN] = merged(values["defaults"], {"image": {"digest": DIGEST}})
    root = tmp_path_factory.mktemp("checkov")
    objects, manifests = {}, {}
    for name, each in values.items():
        objects[name] = render_objects(each)
        folder = root / name
        folder.mkdir()
        manifests[name] = folder / f"{name}.yaml"
        manifests[name].write_text(yaml.safe_dump_all(objects[name], sort_keys=False))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        reports = dict(zip(manifests, pool.map(lambda path: scan(checkov, path), manifests.values()), strict=True))
    return {name: (objects[name], reports[name]) for name in values}


def resource_key(obj: dict[str, Any]) -> str:
    """checkov's name of a rendered object: Kind.namespace.name."""
    return f"{obj['kind']}.{obj['metadata'].get('namespace', 'default')}.{obj['metadata']['name']}"


def unexpected_failures(objects: list[dict[str, Any]], report: dict[str, Any]) -> list[str]:
    components = {resource_key(obj): component_of(obj) for obj in objects}
    found = []
    for failed in report["results"]["failed_checks"]:
        check_id = failed["check_id"]
        if check_id in SKIPPED and (
            check_id not in SKIPPED_ONLY_FOR or components.get(failed["resource"]) in SKIPPED_ONLY_FOR[check_id]
        ):
            continue
        found.append(f"{check_id} {failed['check_name']}: {failed['resource']}")
    return sorted(set(found))


# --- The tests --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CI_NAMES)
def test_checkov_finds_nothing_outside_the_skip_list(scans, name):
    objects, report = scans[name]
    found = unexpected_failures(objects, report)
    assert not found, f"checkov on {name}-values.yaml (fix the chart, or skip with a reason):\n" + "\n".join(found)


@pytest.mark.parametrize("name", CI_NAMES)
def test_checkov_parsed_every_object_and_passed_many_checks(scans, name):
    objects, report = scans[name]
    summary = report["summary"]
    assert summary["checkov_version"] == CHECKOV_VERSION
    assert summary["parsing_errors"] == 0
    # Every object it has checks for, plus the Pods it derives from each workload for its graph checks.
    checkable = [obj for obj in objects if obj["kind"] not in CRD_KINDS]
    assert summary["resource_count"] >= len(checkable), summary
    assert summary["passed"] >= MIN_PASSED, summary


def test_every_skipped_check_still_fails_somewhere(scans):
    """A skip whose finding is gone (the chart was fixed) must leave the list."""
    failed = {each["check_id"] for _, report in scans.values() for each in report["results"]["failed_checks"]}
    assert set(SKIPPED) - failed == set()


def test_an_image_digest_passes_the_digest_and_pull_policy_checks(scans):
    objects, report = scans[DIGEST_SCAN]
    images = {c["image"] for _, template in workloads(objects) for c in containers(template["spec"])}
    assert images == {f"ghcr.io/example/notifier@{DIGEST}"}
    failed = {each["check_id"] for each in report["results"]["failed_checks"]}
    assert failed & {"CKV_K8S_43", "CKV_K8S_15"} == set()
    assert unexpected_failures(objects, report) == []
