"""No contact data in logs (issue 13, point 2): every log line of a whole cycle —
subscribe, sync (one failing with its endpoint in the error), ``sync_sns``, publish,
inbox — is captured through the handler filter settings.LOGGING configures, and no
endpoint appears in clear; nor in ``sync_sns``'s output.

Transactional: the SNS mirror runs after commit, as in production."""

import io
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.module_loading import import_string

from config.masking import ContactDataFilter
from delivery.aws import sns_client
from delivery.inbox import InboxConsumer
from delivery.models import Notification, NotificationState
from delivery.tasks import sync_sns_task
from notifier.firing import fire
from notifier.planning import plan_event
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from subscriptions.verification import verification_confirm, verification_request
from tests.aws import last_code, sms_sent
from tests.factories import make_event, make_topic, prove_endpoints
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_LOGGERS = ("accounts", "config", "events", "subscriptions", "delivery", "notifier", "celery")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def configured_handler() -> Lines:
    """A handler built as settings.LOGGING builds the console one: its formatter, its filters."""
    console = settings.LOGGING["handlers"]["console"]
    handler = Lines()
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"][console["formatter"]]["format"]))
    for name in console["filters"]:
        handler.addFilter(import_string(settings.LOGGING["filters"][name]["()"])())
    return handler


@pytest.fixture
def captured() -> Iterator[Lines]:
    handler = configured_handler()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *PROJECT_LOGGERS)}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_every_configured_handler_masks_and_the_running_console_handler_does():
    assert settings.LOGGING["filters"]["contact_data"]["()"] == "config.masking.ContactDataFilter"
    assert all("contact_data" in h.get("filters", []) for h in settings.LOGGING["handlers"].values())
    consoles = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert consoles and all(any(isinstance(f, ContactDataFilter) for f in h.filters) for h in consoles)


def test_a_whole_cycle_logs_no_endpoint_in_clear(django_user_model, captured, webhooks, monkeypatch, settings):
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")
    ann = django_user_model.objects.create_user("ann")
    email, phone, token = "ann.secret@example.com", "+447700900456", "fcm-device-token-ann-0123456789"
    hook = webhooks.url(f"/{unique_slug('hook')}/ann-private-path?key=s3cret")
    broken = webhooks.url("/broken-private-path")
    clear = [email, phone, token, hook, broken, "ann-private-path", "broken-private-path", "s3cret"]

    # A subscribe SNS refuses, quoting the endpoint, as SNS's InvalidParameter errors do.
    sns = sns_client()
    subscribe = sns.subscribe

    def refusing(**kwargs: str) -> dict:
        if kwargs.get("Endpoint") == broken:
            raise RuntimeError(f"Invalid parameter: Endpoint {broken} refused")
        return subscribe(**kwargs)

    monkeypatch.setattr(sns, "subscribe", refusing)

    # 1. Subscribe: email proven beforehand, the number by its code, every channel.
    prove_endpoints(ann, ("email", email))
    verification_request(user=ann, channel="sms", endpoint=phone)
    verification_confirm(user=ann, channel="sms", endpoint=phone, code=last_code(sms_sent(phone)))
    topic = make_topic(lead=10)
    rows = [
        subscription_create(user=ann, topic=topic, channel="email", endpoint=email),
        subscription_create(user=ann, topic=topic, channel="sms", endpoint=phone),
        subscription_create(user=ann, topic=topic, channel="push", endpoint=token, platform="gcm"),
        subscription_create(user=ann, topic=topic, channel="webhook", endpoint=hook),
        subscription_create(user=ann, topic=topic, channel="in_app"),
    ]
    failing = subscription_create(user=ann, topic=topic, channel="webhook", endpoint=broken)
    for row in rows:
        row.refresh_from_db()
        assert row.status == Subscription.Status.CONFIRMED, (row.channel, row.sync_error)
    failing.refresh_from_db()
    assert failing.sync_error and broken not in failing.sync_error
    stage = {"subscribe": len(captured.lines)}

    # 2. Drift for sync_sns to repair: the email subscription gone from SNS, an orphan added.
    topic.refresh_from_db()
    sns.unsubscribe(SubscriptionArn=rows[0].sns_subscription_arn)
    sns.subscribe(TopicArn=topic.sns_topic_arn, Protocol="email", Endpoint="orphan.secret@example.com")
    clear.append("orphan.secret@example.com")
    sync_sns_task()  # the periodic one logs what it changes
    out = io.StringIO()
    with pytest.raises(CommandError):  # the broken webhook fails again
        call_command("sync_sns", "--topic", topic.slug, stdout=out)
    stage["sync_sns"] = len(captured.lines)

    # 3. Publish: an armed notification of this topic, due now.
    event = make_event(topic, starts_in=timedelta(minutes=9))
    plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(state=NotificationState.ARMED)
    assert fire(notification_ids=[Notification.objects.get(event=event).pk]).sent
    stage["fire"] = len(captured.lines)

    # 4. The inbox consumer, once.
    assert InboxConsumer(fifo=False, wait_seconds=1, stop=threading.Event()).poll_once() >= 1
    stage["inbox"] = len(captured.lines)

    text, output = "\n".join(captured.lines), out.getvalue()
    # Controls: each stage logged, so an empty capture cannot pass.
    assert "sns subscription sync failed" in text and "sns topic ready" in text, text
    assert "sync_sns + subscribe email a***@example.com" in text
    assert "sent notification=" in text and "inbox message" in text, text
    assert stage["subscribe"] < stage["sync_sns"] < stage["fire"] < stage["inbox"]
    assert "orphan o***@example.com" in text, text
    assert "! failed" in output and "/…" in output, output
    for secret in clear:
        assert secret not in text, secret
        assert secret not in output, secret


def test_the_filter_masks_a_deliberate_message_and_an_exception(captured):
    logger = logging.getLogger("notifier.test_log_masking")
    logger.info("x %s", "alice@example.com")
    try:
        raise ConnectionError("cannot post to https://hooks.example.com/private-path?key=s3cret")
    except ConnectionError:
        logger.exception("webhook failed")
    text = "\n".join(captured.lines)
    assert "x a***@example.com" in text and "https://hooks.example.com/…" in text, text
    assert "alice@" not in text and "private-path" not in text and "s3cret" not in text
