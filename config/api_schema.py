"""The OpenAPI schema declares the errors every operation can answer with, as the
exception handler (config/api_errors.py) and DRF really send them: drf-spectacular
documents only the success replies by itself."""

import threading
from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

_DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}
_SCHEMAS = {
    "ErrorDetail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Each invalid field (or non_field_errors) with its messages.",
        "additionalProperties": {"oneOf": [{"type": "array", "items": {}}, {"type": "object"}, {"type": "string"}]},
    },
}


def _reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors_of(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = operation.get("parameters", [])
    errors = {}
    if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
        errors["400"] = _reply(
            "Invalid input: the fields and their errors.", {"$ref": "#/components/schemas/FieldErrors"}
        )
    # Even an open operation answers 401 to a bad token: authentication runs first.
    errors["401"] = _reply("Missing or invalid credentials.", _DETAIL)
    errors["403"] = _reply("Not allowed for this user.", _DETAIL)
    if any(p.get("in") == "path" for p in parameters):
        errors["404"] = _reply("No such object, or not this user's.", _DETAIL)
    errors["429"] = {
        **_reply("Too many requests; retry after the given number of seconds.", _DETAIL),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
    errors["503"] = _reply("A backing service (database, SNS) is unavailable; retry shortly.", _DETAIL)
    return errors


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for status, reply in _errors_of(operation).items():
                declared = responses.setdefault(status, reply)
                # A view's own wording wins, but the retry header is always said.
                if "headers" in reply:
                    declared.setdefault("headers", reply["headers"])
    result.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS)
    return result


class SchemaView(SpectacularAPIView):
    """``/api/schema/``, one generation at a time per process: drf-spectacular loads its
    extension classes lazily and not thread-safely, so two first requests at once on a
    threaded server answered 500 (found by the fuzz run, two clients at once)."""

    _generating = threading.Lock()

    def _get_schema_response(self, request: Request) -> Response:
        with self._generating:
            return super()._get_schema_response(request)
