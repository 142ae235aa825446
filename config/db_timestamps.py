"""timestamptz values read by psycopg's C loader instead of Django's Python one (issue 15).

Django registers its own timestamptz loader on every psycopg 3 connection: a subclass of
psycopg's pure-Python loader that stamps each value with the connection's time zone. It
costs 5.3 µs a value where psycopg's C loader takes 0.6 µs (20,000 values, measured
here); the fire path reads three a row, the console's lists thousands. With USE_TZ and
the session's TimeZone at UTC, which Django sets on every new connection before it
announces it, the C loader gives the same value with the same tzinfo
(``datetime.timezone.utc``), so the swap changes nothing but the cost
(tests/integration/test_db_timestamps.py compares the two).
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import adapters, pq
from psycopg.abc import AdaptContext
from psycopg.adapt import Loader

_TIMESTAMPTZ_OID = adapters.types["timestamptz"].oid
# psycopg's own loader: its C implementation where psycopg[binary] is installed.
_PsycopgLoader = adapters.get_loader(_TIMESTAMPTZ_OID, pq.Format.TEXT)


class UtcTimestamptzLoader(Loader):
    """psycopg's loader behind the ``timezone`` attribute Django reads on each cursor
    (it re-registers its own loader when that differs from the connection's zone). The C
    class cannot be subclassed, so each instance's ``load`` is the C loader's own."""

    timezone = UTC

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        self.load = _PsycopgLoader(oid, context).load  # type: ignore[method-assign]

    def load(self, data: Any) -> datetime:  # shadowed in __init__; here for Loader's ABC
        raise NotImplementedError


def use_psycopg_timestamptz_loader(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """``connection_created`` receiver: swap the loader where it gives the same values."""
    if connection.vendor != "postgresql" or not settings.USE_TZ or connection.timezone is not UTC:
        return
    if connection.connection.info.parameter_status("TimeZone") != "UTC":
        return
    connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
