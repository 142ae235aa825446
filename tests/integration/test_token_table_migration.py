"""Upgrading a database that has DRF's clear-text token table: the migration drops it and
the record of its migrations (decision 0009)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

MIGRATION = ("accounts", "0001_drop_drf_authtoken")


def test_the_clear_text_token_table_is_dropped_on_upgrade():
    MigrationExecutor(connection).migrate([("accounts", None)])  # as before this change
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('d94594e5d94594e5d94594e5d94594e5d94594e5', 1)")
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")
    MigrationExecutor(connection).migrate([MIGRATION])
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    MigrationExecutor(connection).migrate([("accounts", None)])
    MigrationExecutor(connection).migrate([MIGRATION])  # a database that never had the table: no error
