"""DRF's token table held every key in clear. Those keys stopped working when knox
replaced DRF's TokenAuthentication (docs/decisions/0009-api-tokens.md); the table goes,
and with it the record of its migrations, so that nothing looks applied that is not."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [
        migrations.RunSQL(
            [
                "DROP TABLE IF EXISTS authtoken_token",
                "DELETE FROM django_migrations WHERE app = 'authtoken'",
            ],
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
