"""Three indexes that only cost writes: every fire writes each notification row twice and
its attempt row twice, and each index of theirs with it (issue 15).

* the notification's own ``event_id`` index: ``notification_event_state`` (event, state)
  starts with the same column;
* the attempt's own ``notification_id`` index: ``attempt_unique_number`` (notification,
  number) starts with the same column;
* Django's ``varchar_pattern_ops`` twin of the unique ``key``, which only a ``LIKE
  'prefix%'`` would use: the engine looks keys up by equality (the unique index), and the
  admin's search is a ``%...%`` match that no btree serves.

Dropped CONCURRENTLY, so a migration on a live ledger does not stop the fire path's writes.
"""

import django.db.models.deletion
from django.db import migrations, models

# Django's names for them, the same in every database it made (a hash of table and column).
INDEXES = {
    "delivery_notification_event_id_fedb142d": "delivery_notification (event_id)",
    "delivery_deliveryattempt_notification_id_6c6b5236": "delivery_deliveryattempt (notification_id)",
    "delivery_notification_key_63f07824_like": "delivery_notification (key varchar_pattern_ops)",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("delivery", "0005_console_indexes"),
        ("events", "0003_event_change_history"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="notification",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts_log",
                        to="delivery.notification",
                    ),
                ),
                migrations.AlterField(
                    model_name="notification",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="notifications",
                        to="events.event",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
                    # A failed CREATE ... CONCURRENTLY leaves an invalid index of that name behind.
                    reverse_sql=[
                        f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
                        f"CREATE INDEX CONCURRENTLY {name} ON {target}",
                    ],
                )
                for name, target in INDEXES.items()
            ],
        ),
    ]
