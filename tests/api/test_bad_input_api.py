"""Input PostgreSQL cannot take is a 400 naming the field, never a 503 with a traceback
(issue 12, point 5): NUL in text, UTC offsets and dates out of range, events too far
ahead, descriptions too long for one SNS message."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from events.models import MAX_DESCRIPTION_CHARS, Event
from subscriptions.models import Subscription
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

NUL = "\x00"


def soon() -> str:
    return (timezone.now() + timedelta(hours=2)).astimezone(UTC).isoformat()


def field_errors(reply, field: str) -> str:
    assert reply.status_code == 400, (reply.status_code, reply.content[:300])
    return " ".join(reply.json()[field])


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_nul_in_a_topic_slug_is_400(staff_api, user_api, where):
    slug = make_topic().slug
    bad = {"start": NUL + slug, "middle": slug[:3] + NUL + slug[3:], "end": slug + NUL}[where]
    event = staff_api.post("/api/v1/events/", {"topic": bad, "title": "x", "starts_at": soon()}, format="json")
    assert "Null characters" in field_errors(event, "topic")
    sub = user_api.post("/api/v1/subscriptions/", {"topic": bad, "channel": "in_app"}, format="json")
    assert "Null characters" in field_errors(sub, "topic")
    mutes = user_api.put("/api/v1/preferences/", {"muted_topics": [bad], "muted_channels": []}, format="json")
    assert "Null characters" in field_errors(mutes, "muted_topics")
    assert Event.objects.count() == 0 and Subscription.objects.count() == 0


def test_nul_in_a_new_topic_slug_or_a_url_slug_is_refused(staff_api):
    assert field_errors(staff_api.post("/api/v1/topics/", {"slug": "a" + NUL, "name": "x"}, format="json"), "slug")
    assert staff_api.get("/api/v1/topics/a%00b/").status_code == 404  # no slug looks like that


@pytest.mark.parametrize("field", ["title", "description"])
def test_nul_in_event_text_is_400(staff_api, field):
    payload = {"topic": make_topic().slug, "title": "x", "starts_at": soon(), field: "a" + NUL + "b"}
    assert "Null characters" in field_errors(staff_api.post("/api/v1/events/", payload, format="json"), field)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/events/?topic=a%00b", "/api/v1/subscriptions/?topic=a%00b", "/api/v1/inbox/?topic=a%00b",
     "/api/v1/subscriptions/?channel=a%00b", "/api/v1/events/?status=a%00b",
     "/api/v1/notifications/?event=1%00", "/api/v1/notifications/?state=a%00b"],
)  # fmt: skip
def test_nul_in_a_query_parameter_is_400(staff_api, url):
    reply = staff_api.get(url)
    assert reply.status_code == 400, (url, reply.status_code, reply.content[:300])


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-01-01T00:00:00%2B99:00", ""),  # not a time at all
        ("2026-01-01T00:00:00%2B23:59", "UTC offset"),  # Python takes it, PostgreSQL would not
        ("2026-01-01T00:00:00-16:00", "UTC offset"),
        ("2026-01-01T00:00:00%2B1500", "UTC offset"),
        ("0001-01-01T00:00:00%2B05:00", "out of range"),  # before year 1 in UTC
    ],
)
@pytest.mark.parametrize("name", ["starts_after", "starts_before"])
def test_a_starts_filter_out_of_range_is_400(staff_api, name, value, says):
    assert says in field_errors(staff_api.get(f"/api/v1/events/?{name}={value}"), name)


def test_the_starts_filters_compare_in_utc(staff_api):
    event = make_event(make_topic(), starts_in=timedelta(days=3))
    local = event.starts_at.astimezone(UTC).replace(tzinfo=None).isoformat() + "%2B14:00"  # 14 h earlier in UTC
    ids = [row["id"] for row in staff_api.get(f"/api/v1/events/?starts_after={local}").json()["results"]]
    assert ids == [event.pk]
    ids = [row["id"] for row in staff_api.get(f"/api/v1/events/?starts_before={local}").json()["results"]]
    assert ids == []
    for extreme in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00-14:00"):
        assert staff_api.get(f"/api/v1/events/?starts_after={extreme}").status_code == 200, extreme


@pytest.mark.parametrize(
    ("starts_at", "says"),
    [
        ("9999-12-31T23:59:59Z", "within 730 days"),
        ("9999-12-31T23:59:59-05:00", "out of range"),  # DRF converts to UTC: past year 9999
        ("2030-01-01T00:00:00+23:59", "UTC offset"),
        ("0001-01-01T00:00:00+05:00", ""),
    ],
)
def test_starts_at_out_of_range_is_400(staff_api, starts_at, says):
    topic = make_topic()
    created = staff_api.post("/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": starts_at},
                             format="json")  # fmt: skip
    assert says in field_errors(created, "starts_at")
    event = make_event(topic)
    moved = staff_api.patch(f"/api/v1/events/{event.pk}/", {"starts_at": starts_at}, format="json")
    assert says in field_errors(moved, "starts_at")
    assert Event.objects.get().starts_at == event.starts_at


def test_starts_at_follows_the_max_days_ahead_setting(staff_api, settings):
    topic = make_topic()
    settings.NOTIFIER_EVENT_MAX_DAYS_AHEAD = 30
    late = (timezone.now() + timedelta(days=31)).isoformat()
    early = (timezone.now() + timedelta(days=29)).isoformat()
    reply = staff_api.post("/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": late}, format="json")
    assert "within 30 days" in field_errors(reply, "starts_at")
    reply = staff_api.post("/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": early}, format="json")
    assert reply.status_code == 201, reply.content


def test_a_description_over_the_maximum_is_400(staff_api):
    topic = make_topic()
    payload = {"topic": topic.slug, "title": "x", "starts_at": soon(), "description": "d" * (MAX_DESCRIPTION_CHARS + 1)}
    assert str(MAX_DESCRIPTION_CHARS) in field_errors(staff_api.post("/api/v1/events/", payload, format="json"),
                                                      "description")  # fmt: skip
    payload["description"] = "d" * MAX_DESCRIPTION_CHARS
    assert staff_api.post("/api/v1/events/", payload, format="json").status_code == 201
    event = Event.objects.get()
    reply = staff_api.patch(f"/api/v1/events/{event.pk}/", {"description": "e" * (MAX_DESCRIPTION_CHARS + 1)},
                            format="json")  # fmt: skip
    assert str(MAX_DESCRIPTION_CHARS) in field_errors(reply, "description")


def test_a_database_data_error_is_a_generic_400(staff_api, monkeypatch):
    """Whatever still slips past validation and makes PostgreSQL refuse a value: a 400
    that shows no SQL, not a 503 blaming a backing service."""
    from django.db import DataError

    from events.api import EventViewSet

    def refuse(self, serializer):
        raise DataError('value too long for type character varying(200)\nSELECT "events_event"...')

    monkeypatch.setattr(EventViewSet, "perform_create", refuse)
    reply = staff_api.post("/api/v1/events/", {"topic": make_topic().slug, "title": "x", "starts_at": soon()},
                           format="json")  # fmt: skip
    assert reply.status_code == 400
    assert reply.json() == {"non_field_errors": ["A value is malformed or out of range."]}


def test_the_admin_date_filters_survive_far_dates(admin_client):
    event = make_event(make_topic())
    Event.objects.filter(pk=event.pk).update(starts_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))  # an old row
    urls = [
        "/admin/events/event/",
        "/admin/events/event/?starts_at__year=9999",
        "/admin/events/event/?starts_at__year=9999&starts_at__month=12",
        "/admin/events/event/?starts_at__year=9999&starts_at__month=12&starts_at__day=31",
        "/admin/events/event/?starts_at__year=10000",
        "/admin/events/event/?starts_at__year=0",
    ]
    for url in urls:
        reply = admin_client.get(url)
        assert reply.status_code < 500, (url, reply.status_code)


def test_the_admin_refuses_a_start_beyond_the_maximum(admin_client):
    topic = make_topic()
    reply = admin_client.post("/admin/events/event/add/", {
        "topic": topic.pk, "title": "far", "description": "", "starts_at_0": "9999-01-01", "starts_at_1": "00:00:00",
        "lead_minutes": "",
    })  # fmt: skip
    assert reply.status_code == 200 and "within 730 days" in reply.content.decode()
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    ["/admin/events/event/?status__exact=a%00", "/admin/events/event/?q=a%00b", "/admin/events/topic/a%00/change/",
     "/admin/subscriptions/subscription/?channel__exact=%00", "/admin/events/event/?a%00=1"],
)  # fmt: skip
def test_nul_in_an_admin_url_is_400(admin_client, url):
    make_event(make_topic())
    assert admin_client.get(url).status_code == 400, url
