"""The ledger's tables carry no index that only costs writes (delivery migration 0006),
and the lookups the dropped ones served still find an index."""

import pytest
from django.db import connection

DROPPED = {
    "delivery_notification_event_id_fedb142d",
    "delivery_deliveryattempt_notification_id_6c6b5236",
    "delivery_notification_key_63f07824_like",
}


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # may it use an index at all?
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_write_only_indexes_are_gone():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('delivery_notification', 'delivery_deliveryattempt')"
        )
        present = {name for (name,) in cursor.fetchall()}
    assert not DROPPED & present
    assert {"notification_event_state", "attempt_unique_number", "delivery_notification_key_key"} <= present


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        ("SELECT id FROM delivery_notification WHERE event_id = 1", "notification_event_state"),
        ("SELECT id FROM delivery_deliveryattempt WHERE notification_id = 1", "attempt_unique_number"),
        ("SELECT id FROM delivery_notification WHERE key = 'k'", "delivery_notification_key_key"),
    ],
)
def test_lookups_the_dropped_indexes_served_still_use_an_index(lookup, index):
    assert index in plan(lookup)
