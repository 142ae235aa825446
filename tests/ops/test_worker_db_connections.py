"""A pool process keeps its PostgreSQL connection from one task to the next, and replaces
one the server dropped between tasks instead of failing on it (config/celery_app.py,
CELERY_DB_REUSE_MAX). Celery's Django fixup would otherwise close it around every task: a
new backend per fire task, 150 of them in a 30,000 burst (issue 15)."""

import sys
from pathlib import Path

import psycopg
import pytest

from config.celery_app import app
from notifier.enqueue import FIRE_TASK_NAME
from tests.engine import database_url, engine_env
from tests.faults.rig import wait_until
from tests.ops.test_liveness import broker, start, stop  # noqa: F401 (broker is a fixture)

APP_NAME = "reuse-probe"


def backends(admin: psycopg.Connection) -> list[int]:
    rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]).fetchall()
    return [pid for (pid,) in rows]


def fire_and_wait(broker_url: str, log: Path, done: int) -> None:
    """Send a fire task for a row that does not exist (its claim still asks the database)
    and wait until the worker has finished ``done`` tasks."""
    with app.connection_for_write(broker_url) as connection:
        app.send_task(FIRE_TASK_NAME, args=[[987654321]], connection=connection)
    wait_until(lambda: log.read_text().count("succeeded in") >= done, 30, f"task {done}; see {log}")


@pytest.mark.django_db
def test_a_pool_process_reuses_its_connection_and_replaces_one_the_server_dropped(tmp_path, broker):  # noqa: F811
    url = f"{database_url()}{'&' if '?' in database_url() else '?'}application_name={APP_NAME}"
    env = engine_env(DATABASE_URL=url, REDIS_URL=broker, CELERY_BROKER_URL=broker)
    log = tmp_path / "worker.log"
    worker = start([sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "1",
                    "-n", "reuse@%h", "--without-mingle"], env=env, log=log)  # fmt: skip
    try:
        wait_until(lambda: " ready." in log.read_text(), 60, f"the worker to start; see {log}")
        with psycopg.connect(database_url(), autocommit=True) as admin:
            fire_and_wait(broker, log, 1)
            first = backends(admin)
            assert len(first) == 1, first
            for done in range(2, 6):
                fire_and_wait(broker, log, done)
            assert backends(admin) == first  # the same backend served all five tasks

            admin.execute("SELECT pg_terminate_backend(%s)", [first[0]])
            wait_until(lambda: not backends(admin), 10, "the backend to go")
            fire_and_wait(broker, log, 6)
            replaced = backends(admin)
            assert len(replaced) == 1 and replaced != first, (first, replaced)
        text = log.read_text()
        assert "raised unexpected" not in text and "Traceback" not in text, text
    finally:
        stop(worker)


@pytest.mark.django_db
def test_a_task_run_eagerly_leaves_the_callers_connection_and_transaction_alone():
    from django.db import connection

    from notifier.tasks import fire_task

    connection.ensure_connection()
    before = connection.connection
    fire_task.apply(args=[[987654321]])  # runs here, inside the test's transaction
    assert connection.connection is before and not connection.needs_rollback
