"""`manage.py seed_demo` prints a working API token (`make run` shows it); a second run
sets a new password, so the first run's token is revoked."""

import io
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def seeded_token() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--events", "1", stdout=out)
    return re.search(r"API token: ([0-9a-f]{64})$", out.getvalue(), re.MULTILINE).group(1)


def inbox_status(key: str) -> int:
    return APIClient().get("/api/v1/inbox/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def test_the_demo_prints_a_token_that_works_until_the_next_seed():
    first = seeded_token()
    assert inbox_status(first) == 200
    second = seeded_token()
    assert (inbox_status(first), inbox_status(second)) == (401, 200)
