"""When the arm pass must ask the database (issue 15, docs/decisions/0019).

An idle engine used to run its whole pass (plan catch-up, reconcile, arm) every
NOTIFIER_ARM_INTERVAL_SECONDS, a dozen database transactions a minute for nothing. Now
Redis holds ``wake_at``: the earliest moment a live row can need the pass. The pass
asks the database only once that moment has come, and at least every
NOTIFIER_RECONCILE_INTERVAL_SECONDS whatever the hint says (the safety net: a row
written around the services, a lost hint).

What keeps the hint true:

* each database pass sets it from the ledger itself (``next_wake``): the first row to
  arm (due minus the horizon), the first armed row whose task may be lost (its ETA
  plus the reconcile grace) or may expire (its deadline), the first send that may be
  stuck (claimed plus the sending timeout);
* every writer that creates live rows outside a pass lowers it (``wake_lower``, on
  commit): the plans (nightly, per event, catch-up) and the operator's re-arm. A claim or
  a retry moves an armed row, which a pass has already scheduled a wake for;
* no hint (a new or restarted Redis) or Redis failing means: ask the database now.

A pass that read the ledger while a writer lowered the hint does not overwrite it with
a later time: the writer bumps a generation the pass compares before it sets.

Beat sleeps until the hint's moment while the pass is not due (notifier/beat_scheduler.py),
so whatever brings the hint forward also says so on a Redis channel (``beat_wake_channel``),
in the same script that moves it.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings

from delivery.models import NotificationState
from notifier.redis_client import redis_client
from notifier.sql import fetch_all, literals

logger = logging.getLogger(__name__)

WAKE_KEY = "notifier:arm:wake_at"
GENERATION_KEY = "notifier:arm:wake_generation"
# Set by a pass that found no live row needing it before the safety net (no armed or
# sending row, nothing to arm soon); dropped by every writer. The SLO check reads it.
QUIET_KEY = "notifier:arm:quiet_until"

S = NotificationState

# Lower the hint, never raise it; no hint stays no hint (it already means "now"). Either
# way beat is told: it may be asleep until a later moment.
_LOWER_LUA = """
redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[3])
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', ARGV[2], '1')
return 1
"""

# Set the pass's hint unless a writer lowered it since the pass began; then drop it, so
# the next tick asks the database again. Beat is told when the hint comes forward or goes.
_SET_LUA = """
local generation = redis.call('GET', KEYS[2]) or ''
if generation == ARGV[2] then
    local before = redis.call('GET', KEYS[1])
    redis.call('SET', KEYS[1], ARGV[1])
    if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[1]) else redis.call('DEL', KEYS[3]) end
    if before and tonumber(before) > tonumber(ARGV[1]) then redis.call('PUBLISH', ARGV[4], '1') end
    return 1
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('PUBLISH', ARGV[4], '1')
return 0
"""

_NEXT_WAKE_SQL = f"""
SELECT least(
    (SELECT min(due_at) FROM delivery_notification WHERE state = {literals(S.PLANNED)}) - %(horizon)s,
    (SELECT min(next_attempt_at) FROM delivery_notification WHERE state = {literals(S.ARMED)}) + %(grace)s,
    (SELECT min(deadline) FROM delivery_notification WHERE state = {literals(S.ARMED)}),
    (SELECT min(updated_at) FROM delivery_notification WHERE state = {literals(S.SENDING)}) + %(stuck)s
), EXISTS (SELECT 1 FROM delivery_notification WHERE state IN ({literals(S.ARMED, S.SENDING)}))
"""


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def beat_wake_channel() -> str:
    """Redis channels are server-wide: the name holds the database, so two deployments on
    one server do not wake each other's beat."""
    database = redis_client().connection_pool.connection_kwargs.get("db", 0)
    return f"notifier:beat:wake:{database}"


def db_pass_due_at(now: datetime) -> float:
    """When the arm pass must next ask the database, as a POSIX time: the hint's, or
    ``now`` when there is no hint or Redis cannot tell."""
    try:
        wake_at = redis_client().get(WAKE_KEY)
    except redis.RedisError as exc:
        logger.warning("arm wake hint unreadable (%s): asking the database", exc)
        return now.timestamp()
    return now.timestamp() if wake_at is None else float(wake_at)


def db_pass_due(now: datetime) -> bool:
    """True when the arm pass must ask the database: the hint's time has come, there is
    no hint, or Redis cannot tell."""
    return db_pass_due_at(now) <= now.timestamp()


def wake_generation() -> bytes:
    """Read before a pass reads the ledger; handed back to ``wake_set``."""
    return redis_client().get(GENERATION_KEY) or b""


@dataclass(frozen=True)
class Wake:
    at: datetime
    quiet: bool  # nothing armed or sending, and nothing to arm before the safety net's pass


def next_wake(now: datetime) -> Wake:
    """The earliest moment a live row can need the pass, from the ledger, and never later
    than the safety net."""
    params = {
        "horizon": timedelta(seconds=settings.NOTIFIER_ARM_HORIZON_SECONDS),
        "grace": timedelta(seconds=settings.NOTIFIER_RECONCILE_GRACE_SECONDS),
        "stuck": timedelta(seconds=settings.NOTIFIER_SENDING_TIMEOUT_SECONDS),
    }
    first_need, in_hand = fetch_all(_NEXT_WAKE_SQL, params)[0]
    latest = now + timedelta(seconds=settings.NOTIFIER_RECONCILE_INTERVAL_SECONDS)
    if first_need is None or first_need >= latest:
        return Wake(at=latest, quiet=not in_hand)
    return Wake(at=first_need, quiet=False)


def wake_set(wake: Wake, generation: bytes) -> bool:
    """Store the pass's hint; False when a writer lowered it meanwhile (then dropped)."""
    try:
        quiet = "1" if wake.quiet else "0"
        keys = (WAKE_KEY, GENERATION_KEY, QUIET_KEY)
        return bool(redis_client().eval(_SET_LUA, 3, *keys, _epoch(wake.at), generation, quiet, beat_wake_channel()))
    except redis.RedisError as exc:
        logger.warning("arm wake hint not stored (%s): the next pass asks the database", exc)
        return False


def wake_lower(wake_at: datetime) -> None:
    """A writer made a live row that needs the pass at ``wake_at``: bring the hint forward.
    Call on commit. If Redis fails here, the safety net's pass finds the row."""
    try:
        keys = (WAKE_KEY, GENERATION_KEY, QUIET_KEY)
        redis_client().eval(_LOWER_LUA, 3, *keys, _epoch(wake_at), beat_wake_channel())
    except redis.RedisError as exc:
        logger.warning("arm wake hint not lowered to %s (%s)", wake_at.astimezone(UTC).isoformat(), exc)


def quiet(now: datetime) -> bool:
    """True while the last pass found nothing live to watch and no writer made anything
    live since: then no notification can be overdue."""
    try:
        until = redis_client().get(QUIET_KEY)
    except redis.RedisError:
        return False
    return until is not None and float(until) > now.timestamp()


def wake_at() -> datetime | None:
    """The hint as stored (for the console and tests); None: the next pass asks the database."""
    value = redis_client().get(WAKE_KEY)
    return None if value is None else datetime.fromtimestamp(float(value), UTC)
