"""Entry points of the scheduler, as the tasks, commands and signals call them."""

from notifier.arming import ArmResult, arm, arm_and_reconcile
from notifier.planning import PlanResult, plan_event, plan_horizon, plan_window_locked


def event_schedule(*, event_id: int) -> PlanResult:
    """Plan one event and arm it at once if it is due within the horizon."""
    result = plan_event(event_id=event_id)
    if result.planned:
        arm(ids=result.planned)
    return result


def window_plan(*, hours: int | None = None) -> PlanResult:
    """The nightly plan (lock-guarded), followed by an arm pass."""
    result = plan_window_locked(hours=hours)
    if not result.skipped:
        arm_and_reconcile()
    return result


def arm_pass() -> ArmResult:
    """Every arm interval: catch up unplanned events, reconcile, arm."""
    plan_horizon()
    return arm_and_reconcile()
