from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from notifier.metrics import render_metrics


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text: outcome counters, live and overdue rows, recent lag quantiles."""
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
