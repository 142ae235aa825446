"""The client's address, one rule for every limit: DRF's throttles and django-axes'
lockouts key on the same address (REST_FRAMEWORK["NUM_PROXIES"], from NOTIFIER_NUM_PROXIES)."""

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest | Request) -> str:
    """REMOTE_ADDR, or with N trusted proxies the address the outermost of them saw
    (the N-th entry from the right of X-Forwarded-For): earlier entries are the client's
    to forge. AXES_CLIENT_IP_CALLABLE names this."""
    return BaseThrottle().get_ident(request)
