"""timestamptz values come back from psycopg's C loader exactly as Django's own loader
gives them (config/db_timestamps.py)."""

from datetime import UTC

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg import adapters, pq

from config.db_timestamps import UtcTimestamptzLoader
from events.models import Event
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = adapters.types["timestamptz"].oid
VALUES = """
SELECT v FROM (VALUES
    ('0001-01-01 00:00:00+00'::timestamptz), ('1969-12-31 23:59:59.5+00'), ('1970-01-01 00:00:00+00'),
    ('2024-02-29 23:59:59.999999+00'), ('2024-06-01 12:00:00+05:30'), ('2026-03-29 01:30:00+01'),
    ('2026-10-25 02:30:00-11:45'), ('9999-12-31 23:59:59.999999+00'), (NULL)
) AS t(v)
"""


def test_a_connection_reads_timestamps_with_psycopg_s_c_loader():
    connection.ensure_connection()
    assert connection.connection.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT) is UtcTimestamptzLoader
    loader = UtcTimestamptzLoader(TIMESTAMPTZ, connection.connection)
    # Each value goes straight to psycopg's own loader (its C one with psycopg[binary]).
    assert type(loader.load.__self__) is adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT)
    assert type(loader.load.__self__).__module__ == "psycopg_binary._psycopg"


def test_values_and_zone_match_django_s_own_loader():
    with connection.cursor() as cursor:
        cursor.execute(VALUES)
        ours = [value for (value,) in cursor.fetchall()]
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's loader, on this cursor only
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT) is not UtcTimestamptzLoader
        cursor.execute(VALUES)
        django_s = [value for (value,) in cursor.fetchall()]
    assert ours == django_s and ours[-1] is None
    assert all(value.tzinfo is UTC for value in ours[:-1])
    assert [str(value) for value in ours] == [str(value) for value in django_s]  # zone and microseconds alike


def test_the_orm_reads_back_what_it_wrote():
    event = make_event(make_topic())
    loaded = Event.objects.get(pk=event.pk)
    assert loaded.starts_at == event.starts_at and loaded.starts_at.tzinfo is UTC
    assert loaded.created_at.tzinfo is UTC
