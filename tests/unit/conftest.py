"""tests/unit holds pure tests: no PostgreSQL, no Redis, no moto, no network. A test here
that asks for any of them fails at setup; it belongs in tests/integration."""

import inspect
import socket

import pytest

# Fixtures of pytest-django and of tests/conftest.py that bring a service with them.
SERVICES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server",
            "redis", "webhooks", "webhook_receiver"}  # fmt: skip


@pytest.fixture(autouse=True)
def pure_only(request, monkeypatch):
    used = SERVICES & set(request.fixturenames)
    if request.node.get_closest_marker("django_db"):
        used.add("the django_db mark")
    # moto_server is autouse for the session (it sets AWS_ENDPOINT_URL): only naming it counts.
    if "moto_server" in inspect.signature(request.function).parameters:
        used.add("moto_server")
    if used:
        pytest.fail(f"{request.node.nodeid} is a unit test but uses {', '.join(sorted(used))}: "
                    "move it to tests/integration", pytrace=False)  # fmt: skip

    def refuse(sock: socket.socket, address: object) -> None:
        raise AssertionError(f"a unit test opened a connection to {address}: move it to tests/integration")

    monkeypatch.setattr(socket.socket, "connect", refuse)  # Redis, moto, any network
