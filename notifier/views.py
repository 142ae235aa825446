"""Probe and scrape endpoints: ``/healthz``, ``/readyz`` and ``/metrics``.

They answer whatever the ``Host`` header (``notifier.middleware.HostAgnosticRoutesMiddleware``):
the kubelet and Prometheus address a pod by its IP, which is no allowed host.
"""

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from notifier.health import dependency_checks
from notifier.metrics import render_metrics


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process serves requests. Deliberately no dependency checks, so a
    database outage does not make the kubelet restart every web pod."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when PostgreSQL and Redis answer, else 503 naming what failed."""
    checks = dependency_checks()
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed, "checks": checks}, status=503)
    return JsonResponse({"status": "ok", "checks": checks})


def _bearer_token_matches(request: HttpRequest, expected: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text: outcome counters, the lag histogram, live and overdue rows, the canary.
    With ``NOTIFIER_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``."""
    token = settings.NOTIFIER_METRICS_TOKEN
    if token and not _bearer_token_matches(request, token):
        response = JsonResponse({"detail": "a bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


# Route (no leading slash) -> view; config/urls.py and the middleware both read this.
HOST_AGNOSTIC_ROUTES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "healthz": healthz,
    "readyz": readyz,
    "metrics": metrics,
}
