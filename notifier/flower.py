"""Flower as the Helm chart runs it: ``python -m notifier.flower [flower options]``.

``celery -A config flower`` with two differences, because Flower's own defaults leave
it open: it refuses to start without authentication (``FLOWER_BASIC_AUTH``, or Flower's
OAuth through ``FLOWER_AUTH`` and ``FLOWER_AUTH_PROVIDER``), and its ``/metrics``, which
Flower serves to anyone, requires the same authentication as its pages (Prometheus can
send basic auth). ``FLOWER_BASIC_AUTH`` is stripped first: a value read from a secret
file often ends with a newline, which would make every login fail.
``/healthcheck`` stays open for the kubelet's probe; it says only "OK".
"""

import os
import sys
from collections.abc import Mapping

import tornado.web
from celery.bin.celery import main as celery_main
from flower.views import monitor


def authentication_problem(environ: Mapping[str, str]) -> str | None:
    """Why Flower would be open (or locked for good) with this environment, or None."""
    basic_auth = environ.get("FLOWER_BASIC_AUTH", "").strip()
    if not basic_auth:
        if not environ.get("FLOWER_AUTH", "").strip():
            return "set FLOWER_BASIC_AUTH (user:password[,user2:password2]) or FLOWER_AUTH: Flower would be open"
        if not environ.get("FLOWER_AUTH_PROVIDER", "").strip():
            return "FLOWER_AUTH needs FLOWER_AUTH_PROVIDER (Flower's OAuth provider class)"
        return None
    for credential in basic_auth.split(","):
        user, _, password = credential.partition(":")
        if not user or not password:
            return "FLOWER_BASIC_AUTH must be user:password pairs separated by commas"
    return None


def protect_metrics() -> None:
    monitor.Metrics.get = tornado.web.authenticated(monitor.Metrics.get)


def main(argv: list[str]) -> None:
    problem = authentication_problem(os.environ)
    if problem:
        sys.exit(f"flower: {problem}")
    if "FLOWER_BASIC_AUTH" in os.environ:
        os.environ["FLOWER_BASIC_AUTH"] = os.environ["FLOWER_BASIC_AUTH"].strip()
    protect_metrics()
    sys.argv = ["celery", "-A", "config", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
