from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from notifier.views import PROBE_ROUTES

PROBE_PATHS = {f"/{route}": view for route, view in PROBE_ROUTES.items()}


class ProbeRoutesMiddleware:
    """Serves /healthz, /readyz and /metrics before any middleware reads the Host header.

    The kubelet sends ``Host: <pod IP>:<port>`` and Prometheus scrapes pod IPs, neither
    of which is in ``DJANGO_ALLOWED_HOSTS``; Django would answer them 400. Only these
    exact paths skip the host check (and the HTTPS redirect, which a probe cannot
    follow); every other path still refuses a foreign host. Must be first in MIDDLEWARE.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PROBE_PATHS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
