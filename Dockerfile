# One image for every role of the engine; the command picks it (helm/notifier sets one per
# workload):
#   web      gunicorn config.wsgi --config python:config.gunicorn
#   worker   celery -A config worker          beat    celery -A config beat
#   flower   python -m notifier.flower        inbox   python manage.py consume_inbox
#   migrate  python manage.py migrate
# Runs as uid 10001 on a read-only root filesystem; only /tmp must be writable.
# Calls python3 and builds a virtualenv, so it works on the official image (Python in
# /usr/local) and on a Debian base with python3-venv (Python in /usr).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --requirement /tmp/requirements.txt


FROM ${BASE_IMAGE}
# tini as PID 1: forwards SIGTERM to Celery and gunicorn and reaps probe processes.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini=0.19.0-1* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 notifier \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin notifier

COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    HOME=/tmp \
    NOTIFIER_HEARTBEAT_DIR=/tmp

WORKDIR /app
# The code stays owned by root: the process cannot change what it runs.
COPY . /app
# Static files and byte code at build time, as the root filesystem is read-only at run
# time. The secret key and the encryption key ("collectstatic-only-not-a-secret!" in
# base64) only let settings load here; neither is in the running config.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    NOTIFIER_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXNlY3JldCE= \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q /app

USER 10001:10001
EXPOSE 8000 5555
ENTRYPOINT ["tini", "--"]
CMD ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn"]
