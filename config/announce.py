"""Domain signals go out once the change is committed (a rolled-back change says nothing)."""

from django.db import transaction
from django.dispatch import Signal


def announce_on_commit(signal: Signal, sender: type, **ids: int) -> None:
    # Robust: a receiver that fails is logged and the others still run; the scheduler's
    # arm pass and sync_sns catch up with whatever it missed.
    transaction.on_commit(lambda: signal.send(sender=sender, **ids), robust=True)
