from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from notifier.views import HOST_AGNOSTIC_ROUTES

HOST_AGNOSTIC_PATHS = {f"/{route}": view for route, view in HOST_AGNOSTIC_ROUTES.items()}


class HostAgnosticRoutesMiddleware:
    """Serves /healthz, /readyz and /metrics before any middleware reads the Host header.

    The kubelet sends ``Host: <pod IP>:<port>`` and Prometheus scrapes pod IPs, neither
    of which is in ``DJANGO_ALLOWED_HOSTS``; Django would answer them 400. Only these
    exact paths skip the host check (and the HTTPS redirect, which a probe cannot
    follow); every other path still refuses a foreign host. Must be first in MIDDLEWARE.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = HOST_AGNOSTIC_PATHS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
