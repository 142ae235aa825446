from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from config.utc import require_aware

M = TypeVar("M", bound=Model)


def fetch_all(sql: str, params: dict[str, object]) -> list[tuple]:
    """Run one raw statement and return all its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# Array parameters as PostgreSQL array literals, for a statement that casts them
# (``%(ids)s::bigint[]``): psycopg dumps a Python list element by element in Python, and
# a burst's fire task sends five 200-element lists twice (4% of the worker's CPU).


def int_array(values: Iterable[int]) -> str:
    """``{1,2,3}``."""
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Iterable[str]) -> str:
    """``{"a","b"}``: every element quoted, its quotes and backslashes escaped."""
    return "{" + ",".join('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values) + "}"


def timestamptz_array(values: Iterable[datetime]) -> str:
    """``{2026-12-06T14:47:13.242000+00:00,...}`` of aware values; each distinct value is
    formatted once (a fire task's rows share a few acknowledgement times)."""
    texts: dict[tuple[datetime, timedelta | None], str] = {}

    def text(value: datetime) -> str:
        # Keyed with the offset too: in a zone with DST, two values an hour apart (the
        # repeated hour) compare equal.
        key = (value, value.utcoffset())
        return texts.get(key) or texts.setdefault(key, require_aware(value).isoformat())

    return "{" + ",".join(map(text, values)) + "}"


def literals(*values: str) -> str:
    """Our own enum values (never user input) as SQL literals, e.g. ``'planned', 'armed'``:
    the statements name states through ``NotificationState``, and a literal state list lets
    the planner match the partial index's predicate."""
    return ", ".join(f"'{value}'" for value in map(str, values))


@cache
def _plain_load(model: type[Model], attnames: tuple[str, ...]) -> bool:
    """Loading these columns runs nothing of the model's own: no init signal receivers,
    no field converting what the database returns. Decided once per model and columns, at
    the first load: a receiver must be connected at start-up (in an app's ``ready``), as
    every receiver here is, to be seen."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    return (
        not pre_init.has_listeners(model)
        and not post_init.has_listeners(model)
        and all(not hasattr(fields[name], "from_db_value") for name in attnames)
    )


def loaded(model: type[M], attnames: tuple[str, ...], values: Sequence[object]) -> M:
    """The instance ``model.objects.only(*attnames)`` would load from these column values:
    they are its attributes, the other fields deferred, the instance saved in this
    database. Without ``Model.__init__`` where nothing depends on it: its per-field work
    was most of the cost of loading a burst's rows (issue 15)."""
    if not _plain_load(model, attnames):  # the ORM's own way: values in the fields' order
        by_name = dict(zip(attnames, values, strict=True))
        names = [field.attname for field in model._meta.concrete_fields if field.attname in by_name]
        return model.from_db(DEFAULT_DB_ALIAS, names, [by_name[name] for name in names])
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    instance._state = ModelState()
    instance._state.adding = False
    # fetch_all's connection is always the default one; asking it its alias is a
    # thread-local lookup a row (3% of a burst's worker CPU).
    instance._state.db = DEFAULT_DB_ALIAS
    return instance
