"""Contact data encrypted at rest (docs/decisions/0010).

Subscription and EndpointVerification endpoints become Fernet tokens under the newest
NOTIFIER_ENCRYPTION_KEYS key, with an HMAC digest for lookups and uniqueness;
VerificationSend keeps the digest alone. Raw SQL, not the models: the historical model
would decrypt a clear value on read.

Reversible for the two encrypted columns (decrypted back, with the keys still set).
VerificationSend's clear endpoints are gone for good: reversing drops those rows, which
only count the sends of the last hour.
"""

from django.db import migrations, models

import config.encrypted_fields
from config.crypto import blind_index, decrypt_text, encrypt_text

ENCRYPTED = ("subscriptions_subscription", "subscriptions_endpointverification")
BATCH = 500


def _rewrite(schema_editor, table: str, convert) -> None:
    """Every non-empty endpoint through ``convert``, in pk order and batches."""
    with schema_editor.connection.cursor() as cursor:
        last = 0
        while True:
            cursor.execute(
                f"SELECT id, endpoint FROM {table} WHERE id > %s AND endpoint <> '' ORDER BY id LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            for pk, value in rows:
                new_value, digest = convert(value)
                cursor.execute(
                    f"UPDATE {table} SET endpoint = %s, endpoint_digest = %s WHERE id = %s", [new_value, digest, pk]
                )
            last = rows[-1][0]


def encrypt_endpoints(apps, schema_editor):
    for table in ENCRYPTED:
        _rewrite(schema_editor, table, lambda clear: (encrypt_text(clear), blind_index(clear)))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, endpoint FROM subscriptions_verificationsend")
        for pk, clear in cursor.fetchall():
            cursor.execute(
                "UPDATE subscriptions_verificationsend SET endpoint_digest = %s WHERE id = %s",
                [blind_index(clear), pk],
            )


def decrypt_endpoints(apps, schema_editor):
    for table in ENCRYPTED:
        _rewrite(schema_editor, table, lambda token: (decrypt_text(token), ""))


def forget_sends(apps, schema_editor):
    apps.get_model("subscriptions", "VerificationSend").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0006_subscription_inactive_reason"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="subscription", name="subscription_unique_endpoint"),
        migrations.RemoveConstraint(model_name="endpointverification", name="verification_unique_endpoint"),
        migrations.RemoveIndex(model_name="verificationsend", name="verification_send_endpoint"),
        migrations.AddField(
            model_name="subscription",
            name="endpoint_digest",
            field=config.encrypted_fields.BlindIndexField(db_index=True, default="", source="endpoint"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="endpointverification",
            name="endpoint_digest",
            field=config.encrypted_fields.BlindIndexField(db_index=True, default="", source="endpoint"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="verificationsend",
            name="endpoint_digest",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="subscription",
            name="endpoint",
            field=config.encrypted_fields.EncryptedTextField(
                blank=True, help_text="Address, E.164 number, device token or https URL.", max_length=2048
            ),
        ),
        migrations.AlterField(
            model_name="endpointverification",
            name="endpoint",
            field=config.encrypted_fields.EncryptedTextField(max_length=2048),
        ),
        migrations.RunPython(encrypt_endpoints, decrypt_endpoints),
        migrations.RemoveField(model_name="verificationsend", name="endpoint"),
        # After the removal, so that reversing empties the table before the column returns.
        migrations.RunPython(migrations.RunPython.noop, forget_sends),
        migrations.AddConstraint(
            model_name="subscription",
            constraint=models.UniqueConstraint(
                fields=("user", "topic", "channel", "endpoint_digest"), name="subscription_unique_endpoint"
            ),
        ),
        migrations.AddConstraint(
            model_name="endpointverification",
            constraint=models.UniqueConstraint(
                fields=("user", "channel", "endpoint_digest"), name="verification_unique_endpoint"
            ),
        ),
        migrations.AddIndex(
            model_name="verificationsend",
            index=models.Index(fields=["channel", "endpoint_digest", "sent_at"], name="verification_send_endpoint"),
        ),
    ]
