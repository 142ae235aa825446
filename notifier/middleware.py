from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

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


NUL = "\x00"
# The API answers NUL in its parameters itself, with field errors (config/api_fields.py).
API_PREFIX = "/api/"


class RejectNulMiddleware:
    """A 400 for a NUL character in the path or query string of any page but the API's.

    PostgreSQL cannot store or compare text holding NUL and answers with an error; the
    admin hands its list-filter parameters (``?status__exact=...``) to the database as
    they come, so one NUL made a 500. Nothing legitimate ever sends one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX) and (
            NUL in request.path_info
            or any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists())
        ):
            return HttpResponseBadRequest("NUL characters are not allowed in the URL.", content_type="text/plain")
        return self.get_response(request)
