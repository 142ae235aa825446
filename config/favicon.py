"""/favicon.ico, which every browser asks for on its own: the engine has no icon, and a 404
would log "Failed to load resource" in the console of every admin page (issue 14 wants
pages with no console error). 204 says "nothing here" without an error; a day's cache keeps
browsers from asking on every page."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(public=True, max_age=86_400)
def no_favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)
