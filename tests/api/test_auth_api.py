"""API tokens (issue 12, point 4): stored as digests, expiring, revoked on logout and on
any password change; the old request and reply shapes still work."""

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.services import token_issue

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def obtain(client: APIClient, password: str = "pw-alice-123", **kwargs) -> dict:
    reply = client.post(TOKEN_URL, {"username": "alice", "password": password}, **kwargs)
    assert reply.status_code == 200, reply.content
    return reply.json()


def test_token_comes_with_its_expiry_and_authenticates(plain_user, client):
    before = timezone.now()
    issued = obtain(client)  # form-encoded, as obtain_auth_token took it
    assert set(issued) == {"token", "expiry"}
    expiry = parse_datetime(issued["expiry"])
    ttl = timedelta(hours=settings.NOTIFIER_TOKEN_TTL_HOURS)
    assert before + ttl <= expiry <= timezone.now() + ttl
    assert with_key(issued["token"]).get("/api/v1/subscriptions/").status_code == 200
    obtain(APIClient(), format="json")  # and JSON
    plain_user.refresh_from_db()
    assert plain_user.last_login is not None  # the login is recorded as an admin login is


def test_the_database_holds_a_digest_not_the_key(plain_user, client):
    key = obtain(client)["token"]
    row = AuthToken.objects.get(user=plain_user)
    assert row.digest == hashlib.sha512(key.encode()).hexdigest()
    stored = AuthToken.objects.filter(pk=row.pk).values().get()
    assert key not in {str(value) for value in stored.values()}


@override_settings(REST_KNOX={**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)})
def test_the_lifetime_follows_the_setting(plain_user, client):
    expiry = parse_datetime(obtain(client)["expiry"])
    assert abs(expiry - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)


def test_an_expired_token_is_refused_and_removed(plain_user):
    row, key = token_issue(user=plain_user)
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    reply = with_key(key).get("/api/v1/subscriptions/")
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.filter(pk=row.pk).exists()


def test_logout_revokes_the_token_used_and_only_that_one(plain_user, staff_user):
    _, phone = token_issue(user=plain_user)
    _, laptop = token_issue(user=plain_user)
    _, theirs = token_issue(user=staff_user)
    assert with_key(phone).post("/api/v1/auth/logout/").status_code == 204
    assert with_key(phone).get("/api/v1/subscriptions/").status_code == 401
    assert with_key(phone).post("/api/v1/auth/logout/").status_code == 401
    assert with_key(laptop).get("/api/v1/subscriptions/").status_code == 200
    assert with_key(theirs).get("/api/v1/subscriptions/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user_only(plain_user, staff_user):
    keys = [token_issue(user=plain_user)[1] for _ in range(3)]
    _, theirs = token_issue(user=staff_user)
    assert with_key(keys[0]).post("/api/v1/auth/logout-all/").status_code == 204
    assert [with_key(key).get("/api/v1/subscriptions/").status_code for key in keys] == [401, 401, 401]
    assert with_key(theirs).get("/api/v1/subscriptions/").status_code == 200


def test_logout_wants_a_token(plain_user):
    session = APIClient()
    session.force_login(plain_user)
    assert session.post("/api/v1/auth/logout/").status_code == 401
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401


def test_setting_a_new_password_revokes_all_the_users_tokens(plain_user, staff_user):
    keys = [token_issue(user=plain_user)[1] for _ in range(2)]
    _, theirs = token_issue(user=staff_user)
    plain_user.set_password("a-new-pw-456")
    plain_user.save()
    assert AuthToken.objects.filter(user=plain_user).count() == 0
    assert [with_key(key).get("/api/v1/subscriptions/").status_code for key in keys] == [401, 401]
    assert with_key(theirs).get("/api/v1/subscriptions/").status_code == 200


def test_the_admin_password_form_revokes_the_users_tokens(plain_user, admin_client):
    _, key = token_issue(user=plain_user)
    reply = admin_client.post(
        f"/admin/auth/user/{plain_user.pk}/password/",
        {"password1": "a-new-pw-456", "password2": "a-new-pw-456", "usable_password": "true"},
    )
    assert reply.status_code == 302, reply.content[:500]
    plain_user.refresh_from_db()
    assert plain_user.check_password("a-new-pw-456")
    assert with_key(key).get("/api/v1/subscriptions/").status_code == 401


def test_saves_that_keep_the_password_keep_the_tokens(plain_user, client):
    _, key = token_issue(user=plain_user)
    plain_user.email = "alice@example.com"
    plain_user.save()
    plain_user.refresh_from_db()  # a full save of the same hash
    plain_user.save()
    obtain(client)  # login: last_login is saved
    assert with_key(key).get("/api/v1/subscriptions/").status_code == 200


def test_a_hash_upgrade_at_login_is_not_a_password_change(db, client):
    # Django re-hashes a password at login when the preferred hasher changed; same password.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    _, key = token_issue(user=user)
    with override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
    ):
        obtain(client)
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # upgraded
    assert with_key(key).get("/api/v1/subscriptions/").status_code == 200


def test_bad_credentials_are_400_with_the_reason(plain_user, client):
    wrong = client.post(TOKEN_URL, {"username": "alice", "password": "wrong"})
    assert wrong.status_code == 400
    assert wrong.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    missing = client.post(TOKEN_URL, {"username": "alice"}, format="json")
    assert missing.status_code == 400 and set(missing.json()) == {"password"}
    plain_user.is_active = False
    plain_user.save()
    assert client.post(TOKEN_URL, {"username": "alice", "password": "pw-alice-123"}).status_code == 400
    assert AuthToken.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Token short", "Token " + "g" * 64, "Token " + "\x00" * 64, "Token " + "é" * 64],
)
def test_malformed_token_headers_are_401_never_5xx(plain_user, header):
    reply = APIClient().get("/api/v1/subscriptions/", HTTP_AUTHORIZATION=header)
    assert reply.status_code == 401


def test_the_schema_documents_the_auth_endpoints(client):
    reply = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert reply.status_code == 200
    schema = reply.json()
    for route in ("/api/v1/auth/token/", "/api/v1/auth/logout/", "/api/v1/auth/logout-all/"):
        assert "post" in schema["paths"][route], route
    issued = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["200"]["content"]["application/json"]
    name = issued["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][name]["properties"]) == {"token", "expiry"}
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert '"Token"' in scheme["description"]
    assert schema["paths"]["/api/v1/auth/logout/"]["post"]["security"] == [{"tokenAuth": []}]
    assert "security" not in schema["paths"]["/api/v1/auth/token/"]["post"]


def test_the_admin_lists_tokens_without_keys_and_cannot_mint_them(plain_user, admin_client):
    row, key = token_issue(user=plain_user)
    listing = admin_client.get("/admin/knox/authtoken/")
    assert listing.status_code == 200 and "alice" in listing.text
    detail = admin_client.get(f"/admin/knox/authtoken/{row.pk}/change/")
    assert detail.status_code == 200
    for page in (listing, detail):
        assert key[:8] not in page.text  # not the key, nor knox's token_key (its first characters)
    assert admin_client.get("/admin/knox/authtoken/add/").status_code == 403
    assert admin_client.post(f"/admin/knox/authtoken/{row.pk}/delete/", {"post": "yes"}).status_code == 302
    assert with_key(key).get("/api/v1/subscriptions/").status_code == 401
