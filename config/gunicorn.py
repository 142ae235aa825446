"""gunicorn settings for the image: ``gunicorn config.wsgi --config python:config.gunicorn``.

Written for a read-only root filesystem with a writable /tmp. ``--bind`` and the
``WEB_CONCURRENCY`` environment variable (worker processes, read by gunicorn itself)
are set per deployment.
"""

bind = ["0.0.0.0:8000"]
worker_class = "gthread"
threads = 4
# Worker heartbeat files: /tmp is the one writable directory (an emptyDir in the chart).
worker_tmp_dir = "/tmp"
# gunicorn >= 25 opens a control socket under $HOME by default; nothing here uses it.
control_socket_disable = True
accesslog = "-"
# Masks contact data in the access and error logs, as settings.LOGGING does in Django's.
logger_class = "config.gunicorn_logging.ContactDataLogger"
# A worker silent this long is killed and replaced (no API request takes near it).
timeout = 30
# After SIGTERM, requests in flight get this long; the chart's web grace period (40 s)
# covers it plus the 5 s preStop pause that lets the endpoints drop the pod first.
graceful_timeout = 25
# Recycle workers now and then so a slow leak can never take the pod down.
max_requests = 2000
max_requests_jitter = 200
