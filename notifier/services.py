"""Entry points of the scheduler, as the tasks, commands and signal receivers call them.

``<entity>_<action>``: each plans or arms and leaves the ledger ready for the next
step; the fire tasks they need are enqueued on commit (``notifier.enqueue``).
"""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifier.arming import ArmResult, arm, arm_and_reconcile
from notifier.canary import canary_run_schedule, canary_runs_prune
from notifier.canary_receive import canary_receive
from notifier.enqueue import canary_receive_enqueue
from notifier.locks import PLAN_LOCK_NAME, RedisLock
from notifier.models import CanaryRun
from notifier.planning import PlanResult, plan_event, plan_horizon, plan_window
from notifier.redis_client import redis_client
from notifier.wake import db_pass_due, next_wake, wake_generation, wake_set

logger = logging.getLogger(__name__)


def event_plan(*, event_id: int) -> PlanResult:
    """Re-plan one event after a create, move, lead change or cancel, and arm it at once
    if it is due within the horizon."""
    result = plan_event(event_id=event_id)
    if result.planned:
        arm(ids=result.planned)
    return result


def window_plan(*, hours: int | None = None) -> PlanResult:
    """The nightly plan, one pod at a time under the Redis lease, then an arm pass."""
    lock = RedisLock(redis_client(), PLAN_LOCK_NAME, settings.NOTIFIER_PLAN_LOCK_TTL_SECONDS * 1000)
    if not lock.acquire():
        logger.info("plan skipped: lock %s held by another process", PLAN_LOCK_NAME)
        return PlanResult(planned=[], retired=0, skipped=True)
    try:
        result = plan_window(hours=hours)
    finally:
        if not lock.release():
            logger.warning("plan lock expired before the plan finished; raise NOTIFIER_PLAN_LOCK_TTL_SECONDS")
    arm_and_reconcile()
    return result


def horizon_arm(*, now: datetime | None = None) -> ArmResult:
    """Plan what is due soon and has no row yet, reconcile, arm: the database pass."""
    plan_horizon(now=now)
    return arm_and_reconcile(now=now)


def horizon_arm_when_needed(*, now: datetime | None = None) -> ArmResult | None:
    """Every arm interval (the beat's task): the database pass when the wake hint says a
    row may need it or the safety net's time has come, else nothing (None); then the
    hint for the next pass, from the ledger (``notifier.wake``)."""
    if not db_pass_due(now or timezone.now()):
        return None
    generation = wake_generation()
    with transaction.atomic():  # one transaction for the pass and its hint: an idle pass costs one
        result = horizon_arm(now=now)
        wake = next_wake(now or timezone.now())
        transaction.on_commit(lambda: wake_set(wake, generation))
    return result


# Read the canary queue this long after the run's due time: a run on time is recorded
# within seconds; a later one at the next run's pass, its lag exact all the same.
CANARY_RECEIVE_AFTER_DUE_SECONDS = 10


def canary_tick(*, now: datetime | None = None) -> CanaryRun:
    """The beat's canary pass: record what arrived since the last pass, drop runs past
    keeping, schedule a new run, and read the queue again shortly after that run is due.
    ``now``: the pass's time (the run is due ``CANARY_AHEAD`` after it)."""
    canary_receive()
    canary_runs_prune()
    run = canary_run_schedule(now=now)
    read_in = (run.due_at - timezone.now()).total_seconds() + CANARY_RECEIVE_AFTER_DUE_SECONDS
    transaction.on_commit(lambda: canary_receive_enqueue(countdown=max(0.0, read_in)))
    return run
