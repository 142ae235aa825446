"""Thin Celery tasks of the delivery app."""

import logging

from celery import shared_task

from delivery.errors import DeliveryError
from delivery.sns_feedback import sms_opt_outs_sweep
from delivery.sns_reconcile import Change, sns_sync
from subscriptions.verification import verification_poll

logger = logging.getLogger(__name__)


def _log(change: Change, error: DeliveryError | None) -> None:
    if error is not None:
        logger.warning("sync_sns failed %s: %s", change, error)
    elif change.sign == "!":
        logger.warning("sync_sns %s", change)
    elif change.apply is not None:
        logger.info("sync_sns %s", change)


@shared_task(name="delivery.sync_sns")
def sync_sns_task() -> None:
    """The periodic ``sync_sns``: repairs drift and picks up email confirmations."""
    sns_sync(report=_log)
    # Email proofs whose SNS link was followed get their code (docs/decisions/0008).
    verification_poll()


@shared_task(name="delivery.sms_opt_outs")
def sms_opt_outs_task() -> int:
    """The periodic sweep of numbers that opted out of SMS (docs/decisions/0011)."""
    return sms_opt_outs_sweep()
