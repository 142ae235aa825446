"""The inbox dead-letter queues in the admin (issue 14, point 4), against moto's SQS and
real PostgreSQL: listed without being consumed, redriven into the inbox queue, and the
consumer then writes each user's row exactly once, duplicates and all."""

import json
import threading
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from delivery.aws import sqs_client
from delivery.inbox import InboxConsumer
from delivery.messages import build_message
from delivery.models import InboxMessage, Notification
from delivery.queues import inbox_dead_letter_name, inbox_queue_ensure, queue_attributes
from subscriptions.models import Subscription
from tests.aws import receive
from tests.ids import unique_slug
from tests.integration.test_firing import armed_row

pytestmark = pytest.mark.django_db

PAGE = "admin:delivery_inbox_dead_letters"


@pytest.fixture(autouse=True)
def own_inbox_queue(settings):
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")


@pytest.fixture
def console(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("oncall", password="pw-oncall-123"))
    return client


def dead_letter_url(*, fifo: bool = False) -> str:
    inbox_queue_ensure(fifo=fifo)
    return sqs_client().get_queue_url(QueueName=inbox_dead_letter_name(fifo=fifo))["QueueUrl"]


def depth(url: str) -> int:
    return int(queue_attributes(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])


def document(row: Notification) -> str:
    """The body SNS delivers raw to the inbox queue for this notification."""
    return json.loads(build_message(row, row.event, row.event.topic).message)["default"]


def consume() -> int:
    consumer = InboxConsumer(fifo=False, wait_seconds=0, stop=threading.Event())
    handled = 0
    while (batch := consumer.poll_once()) > 0:
        handled += batch
    return handled


@pytest.fixture
def followers(django_user_model):
    return [django_user_model.objects.create_user(name) for name in ("ann", "bob")]


def test_the_page_lists_depth_oldest_and_a_sample_without_taking_anything(console):
    url = dead_letter_url()
    first, second = armed_row(), armed_row()
    for row in (first, second):
        sqs_client().send_message(QueueUrl=url, MessageBody=document(row))
    sqs_client().send_message(QueueUrl=url, MessageBody="not json: write to bob@example.com or +447700900123")
    before = datetime.now(UTC).replace(microsecond=0)
    for _ in range(2):  # looking twice: still all there, nothing in flight
        page = console.get(reverse(PAGE))
        assert page.status_code == 200
        [standard, fifo] = page.context["queues"]
        assert (standard.exists, standard.count, len(standard.sample)) == (True, 3, 3)
        assert not fifo.exists or fifo.count == 0
        assert depth(url) == 3
    assert {m.notification_id for m in standard.sample} == {first.pk, second.pk, None}
    assert {m.title for m in standard.sample if m.notification_id} == {first.event.title}
    assert standard.oldest is not None and abs((standard.oldest - before).total_seconds()) < 60
    html = page.content.decode()
    assert 'id="dlq-standard-count">3<' in html and 'id="dlq-standard-redrive"' in html
    assert reverse("admin:delivery_notification_change", args=[first.pk]) in html
    assert "bob@example.com" not in html and "+447700900123" not in html  # contact data masked
    assert "not json: write to" in html


def test_redrive_empties_the_queue_into_inbox_rows_once_each(console, followers):
    consumed, waiting = armed_row(), armed_row()
    for row in (consumed, waiting):
        for user in followers:
            Subscription.objects.create(user=user, topic=row.event.topic, channel="in_app")
    inbox_url, _ = inbox_queue_ensure(fifo=False)
    sqs_client().send_message(QueueUrl=inbox_url, MessageBody=document(consumed))
    assert consume() == 1  # delivered once already, before its copy went to the dead-letter queue
    assert InboxMessage.objects.count() == 2
    url = dead_letter_url()
    for body in (document(consumed), document(waiting), document(waiting)):  # a duplicate of each kind
        sqs_client().send_message(QueueUrl=url, MessageBody=body)

    response = console.post(reverse(PAGE), {"queue": "standard"}, follow=True)
    assert response.status_code == 200
    name = inbox_dead_letter_name(fifo=False)
    assert [str(m) for m in response.context["messages"]] == [
        f"Redrove 3 message(s) from {name} to the inbox queue; 0 left."
    ]
    assert depth(url) == 0 and receive(url, wait_seconds=0) == []
    assert consume() == 3
    rows = InboxMessage.objects.values_list("notification_id", "user__username")
    assert sorted(rows) == sorted((row.pk, user.username) for row in (consumed, waiting) for user in followers)
    [entry] = LogEntry.objects.filter(content_type__model="inboxmessage")
    assert (entry.user.username, entry.action_flag) == ("oncall", CHANGE)
    assert entry.change_message == f"Redrove 3 message(s) from {name} to the inbox queue"
    assert entry.object_repr == f"dead-letter queue {name}"


def test_redrive_keeps_message_attributes_and_fifo_groups(console):
    url = dead_letter_url(fifo=True)
    row = armed_row()
    attributes = {"notification_key": {"DataType": "String", "StringValue": row.key}}
    sqs_client().send_message(QueueUrl=url, MessageBody=document(row), MessageGroupId="kick-offs",
                              MessageDeduplicationId=row.key, MessageAttributes=attributes)  # fmt: skip
    console.post(reverse(PAGE), {"queue": "fifo"})
    inbox_url, _ = inbox_queue_ensure(fifo=True)
    [moved] = receive(inbox_url, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert json.loads(moved["Body"])["notification_id"] == row.pk
    assert moved["Attributes"]["MessageGroupId"] == "kick-offs"
    assert moved["MessageAttributes"]["notification_key"]["StringValue"] == row.key
    assert depth(url) == 0


def test_the_ledger_and_the_inbox_lists_link_to_the_page(console):
    for changelist in ("admin:delivery_notification_changelist", "admin:delivery_inboxmessage_changelist"):
        html = console.get(reverse(changelist)).content.decode()
        assert f'href="{reverse(PAGE)}" id="dead-letters-link"' in html


def test_a_bad_queue_name_is_a_400_and_moves_nothing(console):
    url = dead_letter_url()
    sqs_client().send_message(QueueUrl=url, MessageBody="{}")
    assert console.post(reverse(PAGE), {"queue": "everything"}).status_code == 400
    assert depth(url) == 1


def test_only_staff_with_the_rights_see_or_redrive(django_user_model):
    url = dead_letter_url()
    sqs_client().send_message(QueueUrl=url, MessageBody="{}")
    anonymous = Client().get(reverse(PAGE))
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    staff = django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse(PAGE)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_inboxmessage"))
    client.force_login(staff)  # a fresh session: permissions are cached on the user object
    page = client.get(reverse(PAGE))
    assert page.status_code == 200 and 'id="dlq-standard-redrive"' not in page.content.decode()
    assert client.post(reverse(PAGE), {"queue": "standard"}).status_code == 403
    assert depth(url) == 1
