"""Existing email and SMS rows under the endpoint-ownership rule (docs/decisions/0008).

Grandfathered: an email address whose SNS subscription is confirmed and which only one
user follows. SNS itself mailed that address a confirmation link for that subscription,
and someone reading the mailbox followed it: the same proof the new flow asks for.
Everything else must be proven again (status ``pending_verification``): an SMS number
was never proven (SNS does not confirm SMS subscriptions), and an address followed by
several users cannot tell whose request its owner confirmed. ``sync_sns`` then removes
their SNS subscriptions.
"""

from collections import defaultdict

from django.db import migrations
from django.utils import timezone

PROVEN_BY_SNS = "email"  # frozen here: the channels of this migration's time
NEEDS_PROOF = ("email", "sms")


def forwards(apps, schema_editor):
    # Grouped in Python, not SQL: since 0007 the endpoint column is encrypted (no SQL
    # comparison), and the test runs this on today's models. Same outcome either way.
    Subscription = apps.get_model("subscriptions", "Subscription")
    EndpointVerification = apps.get_model("subscriptions", "EndpointVerification")
    now = timezone.now()
    email_rows = list(Subscription.objects.filter(channel=PROVEN_BY_SNS).values_list("user_id", "endpoint", "status"))
    holders = defaultdict(set)
    for user_id, endpoint, _ in email_rows:
        holders[endpoint].add(user_id)
    proven_pairs = set(
        EndpointVerification.objects.filter(verified_at__isnull=False).values_list("user_id", "endpoint")
    )
    known = set(EndpointVerification.objects.filter(channel=PROVEN_BY_SNS).values_list("user_id", "endpoint"))
    for user_id, endpoint, status in email_rows:
        if status == "confirmed" and len(holders[endpoint]) == 1 and (user_id, endpoint) not in known:
            EndpointVerification(user_id=user_id, channel=PROVEN_BY_SNS, endpoint=endpoint, verified_at=now).save()
            known.add((user_id, endpoint))
            proven_pairs.add((user_id, endpoint))
    for row in Subscription.objects.filter(channel__in=NEEDS_PROOF).only("pk", "user_id", "endpoint", "channel"):
        if row.channel == PROVEN_BY_SNS and (row.user_id, row.endpoint) in proven_pairs:
            continue
        Subscription.objects.filter(pk=row.pk).update(status="pending_verification")


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0004_endpoint_verification")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
