"""The OpenAPI schema declares the error replies the API really gives."""

import pytest

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
