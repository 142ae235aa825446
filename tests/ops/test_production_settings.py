"""Production settings (docs/decisions/0012): `manage.py check --deploy` passes with the
README's production environment; HTTPS by default with DJANGO_DEBUG off, plain HTTP when
asked; X-Forwarded-Proto believed only behind a proxy; `*_FILE` values stripped."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.engine import ROOT

TEST_KEY = "dGVzdHMtb25seS1ub3QtYS1zZWNyZXQta2V5LTAwMDA="
# The README's production environment ("Security" section), with stand-ins for the secrets.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3#" + "q7Zp-Lw2Xr9Tn4Vb8Mc1Hd6Jf0Gs5Ka" * 2,
    "NOTIFIER_ENCRYPTION_KEYS": TEST_KEY,
    "DJANGO_ALLOWED_HOSTS": "notifier.example.com",
    "DJANGO_BEHIND_PROXY": "true",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
}
# What the settings read that the test run's own environment must not decide here.
_OURS = ("DJANGO_", "NOTIFIER_ENCRYPTION", "NOTIFIER_BLIND")


def clean_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OURS)}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", **values}


_PRINT_SETTINGS = """
import json, sys
import config.settings as settings
print(json.dumps({name: getattr(settings, name, None) for name in sys.argv[1:]}))
"""


def settings_under(env: dict[str, str], *names: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS, *names], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_finds_no_issue_with_the_documented_production_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=clean_env(**PRODUCTION_ENV), cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_check_deploy_still_warns_when_https_is_turned_off():
    """The check is live, not silenced: the plain-HTTP set-up is what it warns about."""
    env = clean_env(**PRODUCTION_ENV, DJANGO_SECURE_SSL_REDIRECT="false", DJANGO_HSTS_SECONDS="0")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_https_is_the_default_with_debug_off_and_plain_http_is_asked_for():
    names = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    minimal = {"DJANGO_SECRET_KEY": "x", "NOTIFIER_ENCRYPTION_KEYS": TEST_KEY}
    assert settings_under(clean_env(**minimal), *names) == {
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31_536_000,
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
    }  # fmt: skip
    plain = clean_env(
        **minimal, DJANGO_SECURE_SSL_REDIRECT="false", DJANGO_HSTS_SECONDS="0", DJANGO_SECURE_COOKIES="false"
    )
    assert settings_under(plain, *names) == {
        "SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
    }  # fmt: skip


def test_x_forwarded_proto_is_believed_only_behind_a_proxy():
    minimal = {"DJANGO_SECRET_KEY": "x", "NOTIFIER_ENCRYPTION_KEYS": TEST_KEY}
    assert settings_under(clean_env(**minimal), "SECURE_PROXY_SSL_HEADER") == {"SECURE_PROXY_SSL_HEADER": None}
    behind = clean_env(**minimal, DJANGO_BEHIND_PROXY="true")
    assert settings_under(behind, "SECURE_PROXY_SSL_HEADER") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]
    }


def test_file_values_lose_their_trailing_newline(tmp_path: Path):
    secret, keys, token = tmp_path / "secret", tmp_path / "keys", tmp_path / "token"
    secret.write_text("from-a-file\n")
    keys.write_text(f"{TEST_KEY}\n")
    token.write_text("scrape-token\r\n")
    env = clean_env(
        DJANGO_SECRET_KEY_FILE=str(secret),
        NOTIFIER_ENCRYPTION_KEYS_FILE=str(keys),
        NOTIFIER_METRICS_TOKEN_FILE=str(token),
    )
    assert settings_under(env, "SECRET_KEY", "NOTIFIER_ENCRYPTION_KEYS", "NOTIFIER_METRICS_TOKEN") == {
        "SECRET_KEY": "from-a-file", "NOTIFIER_ENCRYPTION_KEYS": [TEST_KEY], "NOTIFIER_METRICS_TOKEN": "scrape-token",
    }  # fmt: skip


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, NOTIFIER_METRICS_TOKEN="")
def test_probes_answer_plain_http_while_every_other_path_is_redirected(redis):
    """The kubelet probes over plain HTTP and follows no redirect."""
    client = Client(HTTP_HOST="10.244.3.9:8000")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
    redirected = Client(HTTP_HOST="localhost").get("/api/v1/topics/")
    assert redirected.status_code == 301 and redirected["Location"] == "https://localhost/api/v1/topics/"
