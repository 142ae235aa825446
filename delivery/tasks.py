"""Thin Celery tasks of the delivery app."""

import logging

from celery import shared_task

from delivery.sns_reconcile import sns_reconcile

logger = logging.getLogger(__name__)


@shared_task(name="delivery.sync_sns")
def sync_sns() -> None:
    """The periodic ``sync_sns``: repairs drift and picks up email confirmations."""
    for change in sns_reconcile():
        error = change.run()
        if error is not None:
            logger.warning("sync_sns failed %s: %s", change, error)
        elif change.apply is not None:
            logger.info("sync_sns %s", change)
