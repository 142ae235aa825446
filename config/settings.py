"""Settings for the notification engine, read from the environment (12-factor).

Every knob has an environment variable; secrets also accept a ``*_FILE`` variant
(a path to a file holding the value), as Docker and Kubernetes secrets mount them.
"""

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


class _StrippedFileMapping(environ.FileAwareMapping):
    """``FileAwareEnv`` reads ``X_FILE`` as it is: a secret file written by ``echo`` or a
    Kubernetes Secret edited by hand ends with a newline, which would become part of the
    key, password or token. A value read from a file loses its surrounding whitespace."""

    def __getitem__(self, key: str) -> str:
        value = super().__getitem__(key)
        return value.strip() if self.env.get(f"{key}_FILE") else value


class _StrippedFileAwareEnv(environ.FileAwareEnv):
    ENVIRON = _StrippedFileMapping()


env = _StrippedFileAwareEnv()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Production refuses to start without a real secret; development gets a fixed one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="" if not DEBUG else "dev-only-insecure-key")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured(
        "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set when DJANGO_DEBUG is off"
    )

# Contact data at rest (docs/decisions/0010): Fernet keys, newest first, comma-separated.
# Production refuses to start without one; development gets a fixed key that protects
# nothing (it is in the source) so `DJANGO_DEBUG=true` works with no setup.
_DEV_ONLY_ENCRYPTION_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtZmVybmV0LWtleS0wMDA="


def _fernet_keys(raw: str) -> tuple[str, ...]:
    """Keys split on commas or newlines, whitespace around each dropped (a key file ends
    with a newline); a malformed one is named by position, never shown: this line is logged."""
    keys = tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise environ.ImproperlyConfigured(
                f"NOTIFIER_ENCRYPTION_KEYS: key {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
    return keys


NOTIFIER_ENCRYPTION_KEYS = _fernet_keys(
    env.str("NOTIFIER_ENCRYPTION_KEYS", default="" if not DEBUG else _DEV_ONLY_ENCRYPTION_KEY)
)
if not NOTIFIER_ENCRYPTION_KEYS:
    raise environ.ImproperlyConfigured(
        "NOTIFIER_ENCRYPTION_KEYS (or NOTIFIER_ENCRYPTION_KEYS_FILE) must be set when DJANGO_DEBUG is off"
    )
# The key of the blind index (lookups by endpoint). Unset: derived from SECRET_KEY, and
# then rotating SECRET_KEY needs `manage.py rotate_encryption_keys` (it recomputes digests).
NOTIFIER_BLIND_INDEX_KEY = env.str("NOTIFIER_BLIND_INDEX_KEY", default="").strip()

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
    "knox",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "accounts",  # after knox: its admin replaces knox's
    "axes",
    "events",
    "subscriptions",
    "delivery",
    "notifier",
]

MIDDLEWARE = [
    # First: probes and scrapes come with a pod IP as Host, which no other middleware may see.
    "notifier.middleware.HostAgnosticRoutesMiddleware",
    # NUL in a URL is a 400 before any view hands it to PostgreSQL (the admin's filters would).
    "notifier.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
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
# Workers keep connections between tasks; health checks drop ones the server closed. Ten
# minutes: an idle engine asks the database every few minutes (decision 0019), and each
# new connection costs PostgreSQL a backend start and Django two statements.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable server fails a request (and /readyz) in seconds, not after the OS's TCP timeout.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's four: they apply where a password is chosen (admin forms, validate_password), not
# to create_user, so fixtures and seed_demo's random 12-character password are unaffected.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Abuse limits (issue 12; README: The REST API, Limits) -------------------
# Request rates as DRF writes them, "<count>/<sec|min|hour|day>". Generous for people and
# scripts, strict where guessing pays: passwords (the token endpoint) and verification codes.
NOTIFIER_THROTTLE_USER = env.str("NOTIFIER_THROTTLE_USER", default="600/min")
NOTIFIER_THROTTLE_ANON = env.str("NOTIFIER_THROTTLE_ANON", default="60/min")
NOTIFIER_THROTTLE_AUTH = env.str("NOTIFIER_THROTTLE_AUTH", default="10/min")
NOTIFIER_THROTTLE_VERIFICATION = env.str("NOTIFIER_THROTTLE_VERIFICATION", default="5/hour")
for _name, _rate in {
    "NOTIFIER_THROTTLE_USER": NOTIFIER_THROTTLE_USER,
    "NOTIFIER_THROTTLE_ANON": NOTIFIER_THROTTLE_ANON,
    "NOTIFIER_THROTTLE_AUTH": NOTIFIER_THROTTLE_AUTH,
    "NOTIFIER_THROTTLE_VERIFICATION": NOTIFIER_THROTTLE_VERIFICATION,
}.items():
    # DRF would parse a bad rate only on the first request, as a 500 on every request.
    if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise environ.ImproperlyConfigured(f"{_name}={_rate!r} is not a rate such as 60/min")
# Proxies in front of the web pods that append to X-Forwarded-For (1 behind the chart's
# ingress). 0 trusts no header: the client is REMOTE_ADDR, which a client cannot forge.
NOTIFIER_NUM_PROXIES = env.int("NOTIFIER_NUM_PROXIES", default=0)
if NOTIFIER_NUM_PROXIES < 0:
    raise environ.ImproperlyConfigured("NOTIFIER_NUM_PROXIES must be 0 or more")
# A user's subscriptions, all channels and states together (one user fanning out to
# arbitrary addresses was the audit's finding).
NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER = env.int("NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER", default=100)
# The most rows one page may carry, whatever ?limit= asks (config/pagination.py).
NOTIFIER_API_MAX_PAGE_SIZE = env.int("NOTIFIER_API_MAX_PAGE_SIZE", default=500)
if NOTIFIER_API_MAX_PAGE_SIZE < 1:
    raise environ.ImproperlyConfigured("NOTIFIER_API_MAX_PAGE_SIZE must be at least 1")
# Admin (and token) logins: after this many failures for one username from one address,
# that pair is locked out for the cool-off, even with the right password (django-axes).
NOTIFIER_LOGIN_FAILURE_LIMIT = env.int("NOTIFIER_LOGIN_FAILURE_LIMIT", default=5)
NOTIFIER_LOGIN_COOLOFF_MINUTES = env.int("NOTIFIER_LOGIN_COOLOFF_MINUTES", default=15)

# Axes' backend first: it refuses a locked-out pair before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = NOTIFIER_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=NOTIFIER_LOGIN_COOLOFF_MINUTES)
# Username and address together: a stranger failing on purpose elsewhere cannot lock the real
# user out. The price: one address may try each username up to the limit; the "anon" and
# "auth" rates slow that down.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # "repeated failures": a success in between starts the count again
# The client address as the throttles see it (NOTIFIER_NUM_PROXIES), so the two agree.
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",  # knox: digests in the database
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    # Anonymous requests by address, authenticated ones by user; views with a throttle_scope
    # ("auth", "verification") are also held to that scope's rate. Counters live in the
    # Redis cache below, shared by every web pod; DRF's classes, failing open without Redis.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
        "config.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": NOTIFIER_THROTTLE_ANON,
        "user": NOTIFIER_THROTTLE_USER,
        "auth": NOTIFIER_THROTTLE_AUTH,
        "verification": NOTIFIER_THROTTLE_VERIFICATION,
    },
    "NUM_PROXIES": NOTIFIER_NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Event notification engine API",
    "DESCRIPTION": "Topics, events, subscriptions and the notification ledger.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several fields take a channel (subscriptions, proofs, muted channels): one enum.
    "ENUM_NAME_OVERRIDES": {"ChannelEnum": "subscriptions.channels.channel_choices"},
    # The enum hook first (the default), then the error replies every operation can give.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_schema.add_error_responses",
    ],
}

# --- API tokens (issue 12; docs/decisions/0009-api-tokens.md) -----------------
# django-rest-knox stores a SHA-512 digest per token, never the key. Tokens expire: a
# leaked one stops working on its own (30 days by default); clients ask for a new one.
NOTIFIER_TOKEN_TTL_HOURS = env.int("NOTIFIER_TOKEN_TTL_HOURS", default=720)
if NOTIFIER_TOKEN_TTL_HOURS < 1:
    raise environ.ImproperlyConfigured("NOTIFIER_TOKEN_TTL_HOURS must be at least 1 (tokens always expire)")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=NOTIFIER_TOKEN_TTL_HOURS),
    # The header clients have always sent: "Authorization: Token <key>".
    "AUTH_HEADER_PREFIX": "Token",
    # No cap on tokens per user (knox would answer 403 once reached, locking out a client
    # that never logs out until its tokens expire); the "auth" throttle bounds issuance.
    "TOKEN_LIMIT_PER_USER": None,
    # A fixed lifetime: a token used every day still ends after the TTL.
    "AUTO_REFRESH": False,
}

# --- Redis and Celery ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Django's cache holds the API's rate-limit counters: in Redis, so that a limit holds across
# web pods (a per-process cache would grant each pod the full rate). Prefixed, so that tests
# can clear the counters without flushing the broker's keys.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "notifier:cache",
        # A hung Redis must not hang requests: the throttles fail open (config/throttling.py).
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Scheduling knobs (README: How it schedules) ---------------------------
NOTIFIER_LEAD_MINUTES = env.int("NOTIFIER_LEAD_MINUTES", default=10)
NOTIFIER_PLAN_WINDOW_HOURS = env.int("NOTIFIER_PLAN_WINDOW_HOURS", default=24)
NOTIFIER_PLAN_CRON = env.str("NOTIFIER_PLAN_CRON", default="30 3 * * *")
NOTIFIER_PLAN_LOCK_TTL_SECONDS = env.int("NOTIFIER_PLAN_LOCK_TTL_SECONDS", default=600)
NOTIFIER_ARM_INTERVAL_SECONDS = env.int("NOTIFIER_ARM_INTERVAL_SECONDS", default=10)
NOTIFIER_ARM_HORIZON_SECONDS = env.int("NOTIFIER_ARM_HORIZON_SECONDS", default=300)
NOTIFIER_RECONCILE_GRACE_SECONDS = env.int("NOTIFIER_RECONCILE_GRACE_SECONDS", default=15)
# The arm pass asks the database only when the wake hint in Redis says a row may need it
# (notifier/wake.py), and at least this often: the safety net for rows written around the
# services. Idle, that is a dozen passes an hour instead of 360 (issue 15).
NOTIFIER_RECONCILE_INTERVAL_SECONDS = env.int("NOTIFIER_RECONCILE_INTERVAL_SECONDS", default=300)
NOTIFIER_SENDING_TIMEOUT_SECONDS = env.int("NOTIFIER_SENDING_TIMEOUT_SECONDS", default=30)
NOTIFIER_SEND_LATE = env.bool("NOTIFIER_SEND_LATE", default=False)
NOTIFIER_LAG_ALERT_SECONDS = env.int("NOTIFIER_LAG_ALERT_SECONDS", default=30)
NOTIFIER_LAG_P99_TARGET_SECONDS = env.float("NOTIFIER_LAG_P99_TARGET_SECONDS", default=3.0)
NOTIFIER_SLO_CHECK_INTERVAL_SECONDS = env.int("NOTIFIER_SLO_CHECK_INTERVAL_SECONDS", default=60)
NOTIFIER_ALERT_TOPIC_ARN = env.str("NOTIFIER_ALERT_TOPIC_ARN", default="")
# The canary (issue 14): every this many seconds a synthetic notification goes through the
# whole engine to an SQS queue of its own; 0 turns it off. slo_check alerts when none
# arrived within two intervals (plus a minute), or one arrived later than the lag alert.
NOTIFIER_CANARY_INTERVAL_SECONDS = env.int("NOTIFIER_CANARY_INTERVAL_SECONDS", default=300)
if NOTIFIER_CANARY_INTERVAL_SECONDS < 0:
    raise environ.ImproperlyConfigured("NOTIFIER_CANARY_INTERVAL_SECONDS must be 0 (off) or more")
# --- The operator's console (issue 14) -----------------------------------------
# Notifications the engine sends per minute, for the forecast's peak and expected lag.
# 0: derive it, as the benchmark's rate per Celery pool process (notifier/forecast.py)
# times NOTIFIER_WORKER_PROCESSES, the pool processes of every worker together (the chart
# computes it: concurrency x replicas; make run's one worker: -c 2).
NOTIFIER_CAPACITY_PER_MINUTE = env.int("NOTIFIER_CAPACITY_PER_MINUTE", default=0)
NOTIFIER_WORKER_PROCESSES = env.int("NOTIFIER_WORKER_PROCESSES", default=2)
if NOTIFIER_CAPACITY_PER_MINUTE < 0 or NOTIFIER_WORKER_PROCESSES < 1:
    raise environ.ImproperlyConfigured(
        "NOTIFIER_CAPACITY_PER_MINUTE must be 0 or more and NOTIFIER_WORKER_PROCESSES at least 1"
    )
# --- What SNS tells the engine (docs/decisions/0011) ---------------------------
# The https URL of POST /sns/feedback/ as SNS reaches it; empty: nothing is subscribed.
NOTIFIER_SNS_FEEDBACK_URL = env.str("NOTIFIER_SNS_FEEDBACK_URL", default="")
if NOTIFIER_SNS_FEEDBACK_URL and not NOTIFIER_SNS_FEEDBACK_URL.startswith("https://"):
    raise environ.ImproperlyConfigured("NOTIFIER_SNS_FEEDBACK_URL must be an https:// URL")
# A signed message older than this is refused (a replay); SNS retries for about an hour.
NOTIFIER_SNS_MESSAGE_MAX_AGE_SECONDS = env.int("NOTIFIER_SNS_MESSAGE_MAX_AGE_SECONDS", default=3600)
# How often beat asks SNS for the numbers that opted out of SMS; 0 turns it off.
NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS = env.int("NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS", default=3600)
NOTIFIER_MAX_ATTEMPTS = env.int("NOTIFIER_MAX_ATTEMPTS", default=5)
NOTIFIER_FIRE_BATCH_SIZE = env.int("NOTIFIER_FIRE_BATCH_SIZE", default=200)
# Notifications due within one slot of this many ms share a fire task (sent at the slot's last due time).
NOTIFIER_FIRE_GROUP_MS = env.int("NOTIFIER_FIRE_GROUP_MS", default=250)
# PublishBatch calls a fire task keeps in flight at once (HTTP only; no database connection each).
# 10: after its first call, a full task's other 19 (200 rows) go out in two round trips, not three.
NOTIFIER_FIRE_THREADS = env.int("NOTIFIER_FIRE_THREADS", default=10)
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
# An inbox consumer that nothing woke polls SQS at least this often (delivery/inbox_wake.py,
# decision 0021); 0 polls all the time, as before.
NOTIFIER_INBOX_IDLE_POLL_SECONDS = env.int("NOTIFIER_INBOX_IDLE_POLL_SECONDS", default=300)
if NOTIFIER_INBOX_IDLE_POLL_SECONDS < 0:
    raise environ.ImproperlyConfigured("NOTIFIER_INBOX_IDLE_POLL_SECONDS must be 0 or more")
NOTIFIER_SNS_SYNC_INTERVAL_SECONDS = env.int("NOTIFIER_SNS_SYNC_INTERVAL_SECONDS", default=3600)
# Server-side encryption of the SNS topics and SQS queues the engine creates (issue 13;
# docs/decisions/0013): a KMS key id, ARN or alias. Empty: SQS-managed SSE on the queues
# and no KMS key on the topics (SNS has no managed default). sync_sns brings existing ones in step.
NOTIFIER_KMS_KEY_ID = env.str("NOTIFIER_KMS_KEY_ID", default="")
# Webhook URLs must resolve to public addresses (delivery/channels/url_guard.py), so no user
# can make SNS probe the network we run in. A private deployment names the host names and
# CIDR networks it allows anyway: "hooks.internal,10.20.0.0/16". Empty: public only.
NOTIFIER_WEBHOOK_ALLOW: list[str] = env.list("NOTIFIER_WEBHOOK_ALLOW", default=[])
# How far ahead an event may start: a bound keeps dates in the range every tool handles
# (year 9999 broke the admin's date filter) and catches typos in the year.
NOTIFIER_EVENT_MAX_DAYS_AHEAD = env.int("NOTIFIER_EVENT_MAX_DAYS_AHEAD", default=730)
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
NOTIFIER_METRICS_TOKEN = env.str("NOTIFIER_METRICS_TOKEN", default="")
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
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "visibility_timeout": NOTIFIER_ARM_HORIZON_SECONDS + BROKER_VISIBILITY_MARGIN_SECONDS
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS,
    # How often the worker PINGs its remote-control subscription, and how long a broker
    # connection may sit unused before a PING precedes its next command: kombu's 25 s woke
    # an idle worker 144 times an hour (issue 15). Kept above the 20-s BRPOP renewal
    # (config/worker_idle.py), so the renewals go out without a PING.
    "health_check_interval": 60,
}
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
# Celery's Django fixup closes every database connection before and after each task
# unless this is set (celery/celery#9824): a fire task then paid for a new PostgreSQL
# backend, 150 of them in a 30,000 burst. With it, a pool process keeps its connection;
# config.celery_app closes it around tasks the way Django does around requests
# (CONN_MAX_AGE, and CONN_HEALTH_CHECKS before its first query), and Celery still
# closes it every this many tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's DatabaseScheduler, plus a liveness heartbeat on every tick.
CELERY_BEAT_SCHEDULER = "notifier.beat_scheduler:HeartbeatScheduler"
# Beat wakes for the arm entry every NOTIFIER_ARM_INTERVAL_SECONDS anyway; waking every
# 5 s besides (django-celery-beat's default) doubled an idle beat's CPU (issue 15).
CELERY_BEAT_MAX_LOOP_INTERVAL = max(5, NOTIFIER_ARM_INTERVAL_SECONDS)

# "json": one JSON object per line, with the notification's fields (config/json_logging.py),
# for a log pipeline to filter on; "text" for people at a terminal.
NOTIFIER_LOG_FORMAT = env.str("NOTIFIER_LOG_FORMAT", default="text").lower()
if NOTIFIER_LOG_FORMAT not in ("text", "json"):
    raise environ.ImproperlyConfigured("NOTIFIER_LOG_FORMAT must be text or json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.json_logging.JsonFormatter"},
    },
    # Every handler masks contact data (issue 13): call sites mask what they name, the
    # filter catches the rest (SNS quoting an address in an error, a URL in a traceback).
    "filters": {"contact_data": {"()": "config.masking.ContactDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if NOTIFIER_LOG_FORMAT == "json" else "plain",
            "filters": ["contact_data"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (plain text,
        # unmasked, DEBUG only) besides propagating to root: a second copy of each line.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},  # moto server access log in tests and make run
        # django-axes' start-up banner, at INFO in every process (commands too); its login
        # failures and lockouts (axes.handlers) stay at WARNING.
        "axes.apps": {"level": "WARNING"},
    },
}

if not DEBUG:
    # Production speaks HTTPS (docs/decisions/0012): `manage.py check --deploy` passes with
    # the README's production environment. A plain-HTTP set-up (a demo, the image test)
    # turns the redirect and HSTS off with DJANGO_SECURE_SSL_REDIRECT=false,
    # DJANGO_HSTS_SECONDS=0 and DJANGO_SECURE_COOKIES=false.
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Only a proxy that overwrites X-Forwarded-Proto may be believed: without one, any
    # client could send the header and pass for HTTPS.
    if env.bool("DJANGO_BEHIND_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The probe paths answer before SecurityMiddleware (notifier.middleware), so the
    # kubelet's plain-HTTP probes are never redirected.
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
    # Both widen HSTS beyond this host, which only the domain's owner can decide; the
    # README's production environment sets them (Django warns while they are off).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
