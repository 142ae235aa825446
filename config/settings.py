"""Settings for the notification engine, read from the environment (12-factor).

Every knob has an environment variable; secrets also accept a ``*_FILE`` variant
(a path to a file holding the value), as Docker and Kubernetes secrets mount them.
"""

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Production refuses to start without a real secret; development gets a fixed one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="" if not DEBUG else "dev-only-insecure-key")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured(
        "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG is off"
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "events",
    "subscriptions",
    "delivery",
    "notifier",
]

MIDDLEWARE = [
    # First: probes and scrapes come with a pod IP as Host, which no other middleware may see.
    "notifier.middleware.HostAgnosticRoutesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/notifier"),
}
# Workers keep connections between tasks; health checks drop ones the server closed.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable server fails a request (and /readyz) in seconds, not after the OS's TCP timeout.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Event notification engine API",
    "DESCRIPTION": "Topics, events, subscriptions and the notification ledger.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Redis and Celery ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# --- Scheduling knobs (README: How it schedules) ---------------------------
NOTIFIER_LEAD_MINUTES = env.int("NOTIFIER_LEAD_MINUTES", default=10)
NOTIFIER_PLAN_WINDOW_HOURS = env.int("NOTIFIER_PLAN_WINDOW_HOURS", default=24)
NOTIFIER_PLAN_CRON = env.str("NOTIFIER_PLAN_CRON", default="30 3 * * *")
NOTIFIER_PLAN_LOCK_TTL_SECONDS = env.int("NOTIFIER_PLAN_LOCK_TTL_SECONDS", default=600)
NOTIFIER_ARM_INTERVAL_SECONDS = env.int("NOTIFIER_ARM_INTERVAL_SECONDS", default=10)
NOTIFIER_ARM_HORIZON_SECONDS = env.int("NOTIFIER_ARM_HORIZON_SECONDS", default=300)
NOTIFIER_RECONCILE_GRACE_SECONDS = env.int("NOTIFIER_RECONCILE_GRACE_SECONDS", default=15)
NOTIFIER_SENDING_TIMEOUT_SECONDS = env.int("NOTIFIER_SENDING_TIMEOUT_SECONDS", default=30)
NOTIFIER_SEND_LATE = env.bool("NOTIFIER_SEND_LATE", default=False)
NOTIFIER_LAG_ALERT_SECONDS = env.int("NOTIFIER_LAG_ALERT_SECONDS", default=30)
NOTIFIER_LAG_P99_TARGET_SECONDS = env.float("NOTIFIER_LAG_P99_TARGET_SECONDS", default=3.0)
NOTIFIER_SLO_CHECK_INTERVAL_SECONDS = env.int("NOTIFIER_SLO_CHECK_INTERVAL_SECONDS", default=60)
NOTIFIER_ALERT_TOPIC_ARN = env.str("NOTIFIER_ALERT_TOPIC_ARN", default="")
NOTIFIER_MAX_ATTEMPTS = env.int("NOTIFIER_MAX_ATTEMPTS", default=5)
NOTIFIER_FIRE_BATCH_SIZE = env.int("NOTIFIER_FIRE_BATCH_SIZE", default=200)
# Notifications due within one slot of this many ms share a fire task (sent at the slot's last due time).
NOTIFIER_FIRE_GROUP_MS = env.int("NOTIFIER_FIRE_GROUP_MS", default=250)
# PublishBatch calls a fire task keeps in flight at once (HTTP only; no database connection each).
NOTIFIER_FIRE_THREADS = env.int("NOTIFIER_FIRE_THREADS", default=8)
NOTIFIER_SNS_TOPIC_PREFIX = env.str("NOTIFIER_SNS_TOPIC_PREFIX", default="notifier-")
NOTIFIER_SNS_CONNECT_TIMEOUT_SECONDS = env.float("NOTIFIER_SNS_CONNECT_TIMEOUT_SECONDS", default=2.0)
NOTIFIER_SNS_READ_TIMEOUT_SECONDS = env.float("NOTIFIER_SNS_READ_TIMEOUT_SECONDS", default=5.0)
# Channels (issue 4): push platform applications as "gcm=arn:...,apns=arn:...".
NOTIFIER_PUSH_PLATFORM_ARNS: dict[str, str] = env.dict("NOTIFIER_PUSH_PLATFORM_ARNS", default={})
NOTIFIER_PUSH_DEFAULT_PLATFORM = env.str("NOTIFIER_PUSH_DEFAULT_PLATFORM", default="gcm")
NOTIFIER_DISPLAY_TIMEZONE = env.str("NOTIFIER_DISPLAY_TIMEZONE", default="UTC")
try:
    ZoneInfo(NOTIFIER_DISPLAY_TIMEZONE)
except (ZoneInfoNotFoundError, ValueError) as exc:
    raise environ.ImproperlyConfigured(
        f"NOTIFIER_DISPLAY_TIMEZONE={NOTIFIER_DISPLAY_TIMEZONE!r} is not a time zone"
    ) from exc
if NOTIFIER_PUSH_DEFAULT_PLATFORM not in ("gcm", "apns", "apns_sandbox"):
    raise environ.ImproperlyConfigured("NOTIFIER_PUSH_DEFAULT_PLATFORM must be gcm, apns or apns_sandbox")
NOTIFIER_INBOX_QUEUE_NAME = env.str("NOTIFIER_INBOX_QUEUE_NAME", default="notifier-inbox")
NOTIFIER_INBOX_WAIT_SECONDS = env.int("NOTIFIER_INBOX_WAIT_SECONDS", default=20)
NOTIFIER_SNS_SYNC_INTERVAL_SECONDS = env.int("NOTIFIER_SNS_SYNC_INTERVAL_SECONDS", default=3600)
# Endpoint ownership (issue 12, docs/decisions/0008): a code proves an email address or a
# number. Short-lived and few tries, so guessing a 6-digit code is hopeless (5 in 10^6 per code);
# sends are capped per endpoint (nobody floods someone else's phone) and per user (cost).
NOTIFIER_VERIFICATION_CODE_TTL_SECONDS = env.int("NOTIFIER_VERIFICATION_CODE_TTL_SECONDS", default=600)
NOTIFIER_VERIFICATION_MAX_ATTEMPTS = env.int("NOTIFIER_VERIFICATION_MAX_ATTEMPTS", default=5)
NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR = env.int(
    "NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR", default=3
)
NOTIFIER_VERIFICATION_SENDS_PER_USER_PER_HOUR = env.int("NOTIFIER_VERIFICATION_SENDS_PER_USER_PER_HOUR", default=10)

# --- Operations (issue 10) -------------------------------------------------
# /metrics wants "Authorization: Bearer <token>" when set (the Helm chart always sets it).
# Stripped: a token file (NOTIFIER_METRICS_TOKEN_FILE) usually ends with a newline.
NOTIFIER_METRICS_TOKEN = env.str("NOTIFIER_METRICS_TOKEN", default="").strip()
# Worker, beat and the inbox consumer touch <dir>/<role>.heartbeat for liveness probes
# (config/heartbeat.py); empty turns the files off. The image sets /tmp.
NOTIFIER_HEARTBEAT_DIR = env.str("NOTIFIER_HEARTBEAT_DIR", default="")

# --- Celery (each choice says why) -----------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
# Results are never read: the ledger in PostgreSQL is the record of what happened.
CELERY_TASK_IGNORE_RESULT = True
# JSON only: no pickle means no code execution from a message on the broker.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Redis re-delivers an unacked message after visibility_timeout: it must exceed the
# farthest ETA we hand out (the arm horizon), by a margin that also covers a slow fire
# batch, or every armed task would be doubled.
BROKER_VISIBILITY_MARGIN_SECONDS = 600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": NOTIFIER_ARM_HORIZON_SECONDS + BROKER_VISIBILITY_MARGIN_SECONDS
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
# Ack after the task ran, so a worker killed mid-publish gives the message back;
# the fire claim makes a second run a no-op.
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (OOM, SIGKILL) requeues its message instead of
# acking it as failed; re-running is safe for the same reason.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Broker connection lost: running tasks cannot ack any more and will be redelivered,
# so stop them rather than let two copies race (the claim would make one a no-op).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Keep reconnecting while Redis restarts; the DB holds the schedule meanwhile.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Rolling deploys: SIGTERM lets in-flight publishes finish; held ETA tasks go back to
# Redis at shutdown (kombu restores unacked messages). A cold shutdown (SIGQUIT, or
# SIGTERM with REMAP_SIGTERM=SIGQUIT) waits this long for running tasks first, also when
# only ETA tasks are held, well inside Kubernetes' 30 s grace period.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10.0
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = True
# A fire batch that hangs must not hold its notifications for ever (reconcile retakes them).
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_TIME_LIMIT = 120
# Bound the ETA tasks one worker holds in memory (they bypass the prefetch limit).
CELERY_WORKER_ETA_TASK_LIMIT = env.int("CELERY_WORKER_ETA_TASK_LIMIT", default=20000)
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Flower needs task events to show what the workers do.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's DatabaseScheduler, plus a liveness heartbeat on every tick.
CELERY_BEAT_SCHEDULER = "notifier.beat_scheduler:HeartbeatScheduler"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},  # moto server access log in tests and make run
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Behind an ingress that terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off by default: only the ingress knows whether clients reach it over HTTPS.
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
