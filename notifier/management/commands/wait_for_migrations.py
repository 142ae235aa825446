import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor


def unapplied_migrations() -> list[str]:
    """``app.name`` of every migration the code has and the database has not applied."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


class Command(BaseCommand):
    help = (
        "Wait until the database holds every migration of this code (the init container of each "
        "workload, while the release's migrate Job runs); exits 1 at the timeout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=900, help="seconds (default 900)")
        parser.add_argument("--interval", type=float, default=2, help="seconds between checks (default 2)")

    def handle(self, *args: Any, timeout: float, interval: float, **options: Any) -> None:
        deadline = time.monotonic() + timeout
        last_state = None
        while True:
            try:
                pending = unapplied_migrations()
                state = f"{len(pending)} migration(s) not applied yet, first {pending[0]}" if pending else ""
            except DatabaseError as exc:
                connection.close()
                state = f"database not reachable: {str(exc).strip().splitlines()[0]}"
            if not state:
                self.stdout.write("every migration is applied")
                return
            if state != last_state:  # one line per change, not one per check
                self.stdout.write(f"waiting: {state}")
                last_state = state
            if time.monotonic() >= deadline:
                raise CommandError(f"gave up after {timeout:.0f} s: {state}")
            time.sleep(interval)
