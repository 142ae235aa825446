from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from subscriptions.key_rotation import UndecryptableRow, encrypted_models, rotate_model


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column under the newest NOTIFIER_ENCRYPTION_KEYS key and recompute "
        "the endpoint digests (docs/decisions/0010). Resumable: rows already current are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        for model in encrypted_models():
            try:
                count = rotate_model(model, batch_size=batch_size)
            except UndecryptableRow as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(str(count))
