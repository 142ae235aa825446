"""The OpenAPI schema declares the error replies the API really gives."""

import threading
import time

import pytest
from django.test import RequestFactory
from drf_spectacular.views import SpectacularAPIView

from config.api_schema import SchemaView

pytestmark = pytest.mark.django_db


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_declares_its_error_replies(staff_api):
    schema = staff_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    checked = 0
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert {"401", "403", "429", "503"} <= set(responses), (method, path)
        assert "Retry-After" in responses["429"]["headers"]
        if "{" in path:
            assert "404" in responses, (method, path)
        takes_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
        assert ("400" in responses) == takes_input, (method, path)
        checked += 1
    assert checked >= 20  # the whole API, not a fragment
    assert schema["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]


def test_schema_generation_runs_one_at_a_time(monkeypatch):
    # drf-spectacular's lazy loading raced on a threaded server: two first requests, one 500.
    inside, most = 0, 0
    count = threading.Lock()

    def slow_generate(view, request):
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with count:
            inside -= 1
        return "schema"

    monkeypatch.setattr(SpectacularAPIView, "_get_schema_response", slow_generate)
    replies = []
    request = RequestFactory().get("/api/schema/")
    threads = [
        threading.Thread(target=lambda: replies.append(SchemaView()._get_schema_response(request))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == ["schema"] * 4
    assert most == 1
