"""The console page ``/admin/dashboard/`` and its JSON twin; staff only through the admin
site's own ``admin_view`` (config/urls.py), so a non-staff visitor meets the admin login."""

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from notifier.charts import forecast_chart, lag_per_hour_chart
from notifier.dashboard import DEFAULT_WINDOW, WINDOWS, dashboard_data

REFRESH_SECONDS = 20


def _window(request: HttpRequest) -> str | None:
    window = request.GET.get("window", DEFAULT_WINDOW)
    return window if window in WINDOWS else None


def _bad_window() -> JsonResponse:
    return JsonResponse({"window": [f"Must be one of: {', '.join(WINDOWS)}."]}, status=400)


def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The page; with ``fragment=1`` only its panels, which the page's script swaps in
    every ``REFRESH_SECONDS``."""
    window = _window(request)
    if window is None:
        return _bad_window()
    data = dashboard_data(window=window)
    tomorrow = data["forecast"]
    context = {
        **admin.site.each_context(request),
        "title": "Delivery dashboard",
        "data": data,
        "windows": list(WINDOWS),
        "refresh_seconds": REFRESH_SECONDS,
        "lag_chart": lag_per_hour_chart(data["lag_per_hour"], data["lag"]["target_seconds"]),
        "forecast_chart": forecast_chart(
            tomorrow["start"], tomorrow["due_per_minute"], tomorrow["capacity_per_minute"],
            tomorrow["peak"]["start"], tomorrow["peak"]["due"],
        ),
    }  # fmt: skip
    fragment = request.GET.get("fragment") == "1"
    return TemplateResponse(request, f"admin/dashboard/{'_panels' if fragment else 'index'}.html", context)


def dashboard_json(request: HttpRequest) -> HttpResponse:
    """The page's figures as JSON (times ISO-8601 UTC, lags in seconds)."""
    window = _window(request)
    if window is None:
        return _bad_window()
    return JsonResponse(dashboard_data(window=window), encoder=DjangoJSONEncoder)
