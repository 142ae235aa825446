"""The heartbeat probe script: fresh, stale and missing files, and no Django import."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.heartbeat import Heartbeat, heartbeat_path

PROBE = Path(__file__).resolve().parents[2] / "config" / "heartbeat.py"


def probe(directory: Path | None, *args: str, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "NOTIFIER_HEARTBEAT_DIR"}
    if directory is not None:
        env["NOTIFIER_HEARTBEAT_DIR"] = str(directory)
    return subprocess.run(
        [sys.executable, *python_flags, str(PROBE), *args], env=env, capture_output=True, text=True, check=False
    )


def test_a_fresh_heartbeat_passes_and_a_stale_one_fails_with_its_age(tmp_path):
    heartbeat = Heartbeat(role="worker", directory=str(tmp_path))
    heartbeat.start()
    heartbeat.beat()
    assert probe(tmp_path, "worker", "--max-age", "60").returncode == 0
    old = time.time() - 300
    os.utime(heartbeat_path(str(tmp_path), "worker"), (old, old))
    stale = probe(tmp_path, "worker", "--max-age", "60")
    assert stale.returncode == 1 and "worker heartbeat is 300 s old (limit 60 s)" in stale.stderr


def test_no_heartbeat_yet_or_no_directory_fails(tmp_path):
    assert "no beat heartbeat yet" in probe(tmp_path, "beat", "--max-age", "60").stderr
    unset = probe(None, "beat", "--max-age", "60")
    assert unset.returncode == 1 and "NOTIFIER_HEARTBEAT_DIR is not set" in unset.stderr
    assert probe(tmp_path, "web", "--max-age", "60").returncode == 2  # not a role with a heartbeat


def test_start_forgets_a_file_left_by_an_earlier_container(tmp_path):
    leftover = heartbeat_path(str(tmp_path), "inbox")
    leftover.touch()
    Heartbeat(role="inbox", directory=str(tmp_path)).start()
    assert not leftover.exists()


def test_an_empty_directory_setting_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    heartbeat = Heartbeat(role="worker", directory="")
    heartbeat.start()
    heartbeat.beat()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module", ["django", "celery", "kombu"])
def test_the_probe_imports_neither_django_nor_celery(tmp_path, module):
    Heartbeat(role="worker", directory=str(tmp_path)).beat()
    run = probe(tmp_path, "worker", "--max-age", "60", python_flags=("-X", "importtime"))
    assert run.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in run.stderr.splitlines() if "|" in line}
    assert "argparse" in imported and module not in imported
