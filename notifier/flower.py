"""Flower as the Helm chart runs it: ``python -m notifier.flower [flower options]``.

``celery -A config flower`` with two differences, because Flower's own defaults leave
it open: it refuses to start without authentication (``FLOWER_BASIC_AUTH``, or Flower's
OAuth through ``FLOWER_AUTH``), and its ``/metrics``, which Flower serves to anyone,
requires the same authentication as its pages (Prometheus can send basic auth).
``/healthcheck`` stays open for the kubelet's probe; it says only "OK".
"""

import os
import sys

import tornado.web
from celery.bin.celery import main as celery_main
from flower.views import monitor


def authentication_problem(environ: dict[str, str]) -> str | None:
    """Why Flower would be open with this environment, or None if it is not."""
    basic_auth = environ.get("FLOWER_BASIC_AUTH", "").strip()
    if environ.get("FLOWER_AUTH", "").strip() and not basic_auth:
        return None
    if not basic_auth:
        return "set FLOWER_BASIC_AUTH (user:password[,user2:password2]) or FLOWER_AUTH: Flower would be open"
    for credential in basic_auth.split(","):
        user, _, password = credential.partition(":")
        if not user or not password:
            return "FLOWER_BASIC_AUTH must be user:password pairs separated by commas"
    return None


def protect_metrics() -> None:
    monitor.Metrics.get = tornado.web.authenticated(monitor.Metrics.get)


def main(argv: list[str]) -> None:
    problem = authentication_problem(dict(os.environ))
    if problem:
        sys.exit(f"flower: {problem}")
    protect_metrics()
    sys.argv = ["celery", "-A", "config", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
