"""Changes reach the scheduler and the SNS mirror through the services' announcements,
sent once committed; the admin goes through the same services."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from delivery.models import Notification, NotificationState
from events import services as event_services
from events.models import Event, Topic
from events.signals import event_changed, topic_saved
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from subscriptions.signals import subscription_changed
from tests.factories import make_event, make_topic
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[dict[Signal, list[int]]]:
    """The ids each domain signal announced, in order."""
    calls: dict[Signal, list[int]] = {event_changed: [], topic_saved: [], subscription_changed: []}
    receivers = {}
    for signal, key in (
        (event_changed, "event_id"),
        (topic_saved, "topic_id"),
        (subscription_changed, "subscription_id"),
    ):

        def listen(sender, signal=signal, key=key, **kwargs):
            calls[signal].append(kwargs[key])

        receivers[signal] = listen
        signal.connect(listen, weak=False)
    yield calls
    for signal, listen in receivers.items():
        signal.disconnect(listen)


def test_an_event_change_is_announced_once_committed_and_not_when_rolled_back(
    heard, django_capture_on_commit_callbacks
):
    topic = make_topic()
    starts = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True) as queued, pytest.raises(RuntimeError), transaction.atomic():
        event_services.event_create(topic=topic, title="Dropped", starts_at=starts)
        raise RuntimeError("roll back")
    assert queued == [] and heard[event_changed] == []

    with django_capture_on_commit_callbacks(execute=True):
        event = make_event(topic)
        assert heard[event_changed] == []  # not before the commit
    assert heard[event_changed] == [event.pk]


def test_each_change_announces_the_event_and_a_no_op_edit_does_not(heard, django_capture_on_commit_callbacks):
    event = make_event(make_topic())
    with django_capture_on_commit_callbacks(execute=True):
        event_services.event_update(event=event, title=event.title)  # nothing changed
    assert heard[event_changed] == []
    with django_capture_on_commit_callbacks(execute=True):
        event_services.event_update(event=event, starts_at=event.starts_at + timedelta(minutes=5))
        event_services.event_cancel(event=event)
        event_services.event_cancel(event=event)  # already cancelled: nothing to say
    assert heard[event_changed] == [event.pk, event.pk]


def test_a_default_lead_change_announces_the_upcoming_events_that_follow_it(heard, django_capture_on_commit_callbacks):
    topic = make_topic(lead=10)
    follows = make_event(topic)
    make_event(topic, lead=5)  # its own lead
    make_event(topic, starts_at=timezone.now() - timedelta(minutes=1))  # started already
    cancelled = make_event(topic)
    event_services.event_cancel(event=cancelled)
    with django_capture_on_commit_callbacks(execute=True):
        event_services.topic_update(topic=topic, default_lead_minutes=15)
    assert heard[event_changed] == [follows.pk]
    assert heard[topic_saved] == [topic.pk]


def test_admin_creates_an_event_through_the_service_and_it_is_planned(admin_client, django_capture_on_commit_callbacks):
    topic = make_topic(lead=10)
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    form = {"topic": topic.pk, "title": "From the admin", "description": "", "lead_minutes": ""}
    form |= {"starts_at_0": starts.strftime("%Y-%m-%d"), "starts_at_1": starts.strftime("%H:%M:%S")}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/events/event/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = Event.objects.get(title="From the admin")
    row = Notification.objects.get(event=event)  # planned by the announced change
    assert row.state == NotificationState.PLANNED and row.due_at == starts - timedelta(minutes=10)


def test_admin_shows_the_services_checks_as_form_errors_and_writes_nothing(admin_client):
    topic = make_topic()
    past = timezone.now() - timedelta(hours=1)
    form = {"topic": topic.pk, "title": "Too late", "description": "", "lead_minutes": ""}
    form |= {"starts_at_0": past.strftime("%Y-%m-%d"), "starts_at_1": past.strftime("%H:%M:%S")}
    response = admin_client.post("/admin/events/event/add/", form)
    assert response.status_code == 200
    assert "The event must start in the future." in response.content.decode()
    assert not Event.objects.filter(title="Too late").exists()

    cancelled = make_event(topic)
    event_services.event_cancel(event=cancelled)
    form |= {"title": "Renamed", "starts_at_0": f"{cancelled.starts_at:%Y-%m-%d}"}
    form |= {"starts_at_1": f"{cancelled.starts_at:%H:%M:%S}"}
    response = admin_client.post(f"/admin/events/event/{cancelled.pk}/change/", form)
    assert "A cancelled event cannot be changed." in response.content.decode()
    assert Event.objects.get(pk=cancelled.pk).title == "Match"


def test_admin_creates_a_topic_through_the_service(admin_client, heard, django_capture_on_commit_callbacks):
    slug = unique_slug()
    form = {"slug": slug, "name": "From the admin", "description": "", "default_lead_minutes": 12}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/events/topic/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    topic = Topic.objects.get(slug=slug)
    assert heard[topic_saved] == [topic.pk]
    assert topic.sns_topic_arn.endswith(slug)  # the SNS mirror made its topic (moto)


def test_admin_resync_announces_without_writing_the_rows(
    admin_client, admin_user, heard, django_capture_on_commit_callbacks
):
    subscription = subscription_create(user=admin_user, topic=make_topic(), channel="in_app")
    before = Subscription.objects.get(pk=subscription.pk).updated_at
    form = {"action": "resync", "_selected_action": [subscription.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/subscriptions/subscription/", form)
    assert response.status_code == 302
    assert heard[subscription_changed] == [subscription.pk]
    assert Subscription.objects.get(pk=subscription.pk).updated_at == before
