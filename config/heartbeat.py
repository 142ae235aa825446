"""Liveness heartbeats for the processes that serve no HTTP: worker, beat, inbox consumer.

Each process touches ``$NOTIFIER_HEARTBEAT_DIR/<role>.heartbeat`` from its own loop (the
worker's event-loop timer, beat's tick, the inbox consumer's main loop while both queue
loops turn), so a stale file means that loop stopped. The kubelet's exec probe runs this
file as a script and only compares the file's age with a limit:

    python /app/config/heartbeat.py worker --max-age 120

A ``celery inspect ping`` probe would boot Django and Celery (seconds of CPU per call)
and cannot be answered by a busy solo pool (celery#4079). This module therefore imports
the standard library only. Run it by its path, as above: ``python -m config.heartbeat``
would import the ``config`` package first, and with it the Celery app and Django.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROLES = ("worker", "beat", "inbox")
DIR_VARIABLE = "NOTIFIER_HEARTBEAT_DIR"


def heartbeat_path(directory: str, role: str) -> Path:
    return Path(directory) / f"{role}.heartbeat"


class Heartbeat:
    """Touches one role's file; does nothing when no directory is configured."""

    def __init__(self, *, role: str, directory: str) -> None:
        self.path = heartbeat_path(directory, role) if directory else None

    def start(self) -> None:
        """Forget a file left by an earlier container of the pod (an emptyDir outlives it)."""
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.unlink(missing_ok=True)

    def beat(self) -> None:
        if self.path is not None:
            self.path.touch()


def heartbeat_age(path: Path, *, now: float | None = None) -> float | None:
    """Seconds since the last beat, or None if there was none."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - modified


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Exit 0 if ROLE's heartbeat is fresh (a liveness probe).")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--max-age", type=float, required=True, help="seconds")
    args = parser.parse_args(argv)
    directory = os.environ.get(DIR_VARIABLE, "")
    if not directory:
        print(f"{DIR_VARIABLE} is not set: no heartbeat to check", file=sys.stderr)
        return 1
    path = heartbeat_path(directory, args.role)
    age = heartbeat_age(path)
    if age is None:
        print(f"no {args.role} heartbeat yet at {path}", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"{args.role} heartbeat is {age:.0f} s old (limit {args.max_age:.0f} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
