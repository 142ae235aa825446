"""Abuse limits of the API (issue 12, point 3): request rates with 429 and Retry-After, and a
ceiling on ?limit=.

Rates: DRF copies REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] into the class attribute
SimpleRateThrottle.THROTTLE_RATES when rest_framework.throttling is imported, and its
settings reload (on setting_changed) does not reach that copy; reloading the module would
make new throttle classes that the views, which hold the old ones, never use. So the tests
replace that one attribute, which every throttle reads per request, with monkeypatch (undone
after each test). The counters themselves start empty in every test (tests/conftest.py)."""

import logging
import socket

import pytest
from django.conf import settings
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from tests.factories import make_topic

pytestmark = pytest.mark.django_db

GENEROUS = {"user": "1000/min", "anon": "1000/min", "auth": "1000/min", "verification": "1000/hour"}


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**changed: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**GENEROUS, **changed})

    return set_rates


def assert_throttled(reply, *, period_seconds: int) -> None:
    assert reply.status_code == 429, reply.content[:300]
    assert 1 <= int(reply["Retry-After"]) <= period_seconds
    assert "throttled" in reply.json()["detail"].lower()


def test_the_settings_give_each_scope_its_environment_rate():
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": settings.NOTIFIER_THROTTLE_USER,
        "anon": settings.NOTIFIER_THROTTLE_ANON,
        "auth": settings.NOTIFIER_THROTTLE_AUTH,
        "verification": settings.NOTIFIER_THROTTLE_VERIFICATION,
    }
    assert SimpleRateThrottle.THROTTLE_RATES is settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def test_a_user_past_the_rate_gets_429_with_retry_after_and_others_are_not_held(rates, user_api, staff_api):
    rates(user="3/min")
    for _ in range(3):
        assert user_api.get("/api/v1/topics/").status_code == 200
    assert_throttled(user_api.get("/api/v1/subscriptions/"), period_seconds=60)  # per user, every route
    assert staff_api.get("/api/v1/topics/").status_code == 200


def test_the_token_endpoint_has_the_strict_auth_rate(rates, plain_user):
    rates(auth="2/min")
    client = APIClient()
    for _ in range(2):
        assert client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}).status_code == 400
    # The right password does not help once the rate is spent: guessing is what it slows.
    reply = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-alice-123"})
    assert_throttled(reply, period_seconds=60)
    assert "token" not in reply.json()


def test_anonymous_requests_are_counted_per_address(rates, plain_user):
    rates(anon="2/min")
    client = APIClient()
    login = {"username": "alice", "password": "pw-alice-123"}
    assert client.post("/api/v1/auth/token/", login).status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert_throttled(client.post("/api/v1/auth/token/", login), period_seconds=60)
    assert client.post("/api/v1/auth/token/", login, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_forwarded_for_counts_only_with_proxies_configured(rates, plain_user, settings):
    rates(anon="1/min")
    client = APIClient()
    login = {"username": "alice", "password": "pw-alice-123"}
    # NOTIFIER_NUM_PROXIES=0: a client's own X-Forwarded-For is ignored, it cannot dodge the limit.
    assert client.post("/api/v1/auth/token/", login, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert client.post("/api/v1/auth/token/", login, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 429
    # Behind one proxy, the address it appended is the client (earlier entries are forgeable).
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for address in ("198.51.100.3", "198.51.100.4"):
        forwarded = f"203.0.113.9, {address}"
        assert client.post("/api/v1/auth/token/", login, HTTP_X_FORWARDED_FOR=forwarded).status_code == 200
    assert client.post("/api/v1/auth/token/", login, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.4").status_code == 429


def test_without_redis_the_api_answers_unthrottled_and_logs_it(rates, user_api, settings, caplog):
    with socket.socket() as probe:  # a port nothing listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{dead}/12"}}
    rates(user="1/min")
    with caplog.at_level(logging.WARNING, logger="config.throttling"):
        assert [user_api.get("/api/v1/topics/").status_code for _ in range(2)] == [200, 200]
    assert "Redis unavailable" in caplog.text


class _SendCode(APIView):
    """Stands in for a verification-code request (the endpoints name this scope)."""

    throttle_scope = "verification"

    def post(self, request):
        return Response({"sent": True})


def test_the_verification_scope_holds_a_user_to_its_own_rate(rates, plain_user, staff_user):
    rates(verification="2/hour")
    view = _SendCode.as_view()
    factory = APIRequestFactory()

    def send(user):
        request = factory.post("/send-code/")
        force_authenticate(request, user=user)
        return view(request)

    assert [send(plain_user).status_code for _ in range(2)] == [200, 200]
    reply = send(plain_user)
    assert reply.status_code == 429 and 1 <= int(reply["Retry-After"]) <= 3600
    assert send(staff_user).status_code == 200  # per user


def test_limit_is_capped_at_the_configured_page_size(user_api, settings):
    settings.NOTIFIER_API_MAX_PAGE_SIZE = 3
    for _ in range(5):
        make_topic()
    for query in ("?limit=100000", "", "?limit=3&offset=0"):
        page = user_api.get(f"/api/v1/topics/{query}").json()
        assert page["count"] == 5 and len(page["results"]) == 3, query
    assert len(user_api.get("/api/v1/topics/?limit=2").json()["results"]) == 2


def test_the_default_cap_is_500_and_the_schema_states_it(user_api):
    assert settings.NOTIFIER_API_MAX_PAGE_SIZE == 500
    schema = user_api.get("/api/schema/", {"format": "json"}).json()
    limit = next(p for p in schema["paths"]["/api/v1/topics/"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500


def test_no_limit_leaks_between_tests_first(rates):
    """With the next test: counters from one test never reach another (tests/conftest.py)."""
    rates(anon="2/min")
    client = APIClient()
    assert [client.get("/api/schema/").status_code for _ in range(3)] == [200, 200, 429]


def test_no_limit_leaks_between_tests_second(rates):
    rates(anon="2/min")
    assert APIClient().get("/api/schema/").status_code == 200  # same address, a fresh count
