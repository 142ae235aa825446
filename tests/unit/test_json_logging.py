"""The JSON log format (issue 14, point 6): one object per line with the fields named in
config/json_logging.py, contact data masked in every field, as settings.LOGGING and
gunicorn's logger build it."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

from config import json_logging
from config.json_logging import JsonFormatter, json_say, log_fields, name_worker_lines, worker_name
from config.masking import ContactDataFilter

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ("alice@example.com", "+447700900123", "https://hooks.example.com/alice/secret-path")


def json_handler(stream: io.StringIO) -> logging.Handler:
    """The console handler as settings.LOGGING builds it with NOTIFIER_LOG_FORMAT=json."""
    from django.conf import settings

    handler = logging.StreamHandler(stream)
    handler.setFormatter(import_string(settings.LOGGING["formatters"]["json"]["()"])())
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(settings.LOGGING["filters"][name]["()"])())
    return handler


@pytest.fixture
def logged():
    stream = io.StringIO()
    logger = logging.getLogger("tests.json_logging")
    handler = json_handler(stream)
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.DEBUG

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines, stream
    logger.removeHandler(handler)


def test_a_line_about_a_notification_carries_its_fields_and_parses(logged):
    logger, lines, stream = logged
    fields = log_fields(notification_id=42, key="ab12", event_id=7, topic="kick-offs", attempt=2, lag_ms=130)
    logger.info("sent notification=%s lag_ms=%s", 42, 130, extra=fields)
    [entry] = lines()
    assert list(entry)[:4] == ["timestamp", "level", "logger", "message"]
    assert entry["message"] == "sent notification=42 lag_ms=130"
    assert entry["level"] == "INFO" and entry["logger"] == "tests.json_logging"
    assert {k: entry[k] for k in ("notification_id", "key", "event_id", "topic", "attempt")} == {
        "notification_id": 42, "key": "ab12", "event_id": 7, "topic": "kick-offs", "attempt": 2,
    }  # fmt: skip
    assert entry["lag_ms"] == 130  # any other extra= field, under its own name
    stamp = entry["timestamp"]
    assert len(stamp) == 24 and stamp[10] == "T" and stamp.endswith("Z")  # 2026-12-03T07:18:45.308Z
    assert stream.getvalue().count("\n") == 1


def test_fields_that_do_not_apply_are_left_out_and_none_are_invented(logged):
    logger, lines, _ = logged
    logger.warning("plan lock expired", extra=log_fields(notification_id=None, topic=None))
    [entry] = lines()
    assert set(entry) == {"timestamp", "level", "logger", "message"}


def test_endpoints_are_masked_in_the_message_the_traceback_and_extra_fields(logged):
    logger, lines, stream = logged
    try:
        raise RuntimeError(f"SNS refused {ENDPOINTS[0]}\nand {ENDPOINTS[2]}")
    except RuntimeError:
        extra = {"endpoint": ENDPOINTS[0], "topic": ENDPOINTS[2]}
        logger.exception("subscribe failed for %s", ENDPOINTS[1], extra=extra)
    [entry] = lines()  # a multi-line traceback is still one line of JSON
    assert entry["message"] == "subscribe failed for +44*******123"
    assert "RuntimeError: SNS refused a***@example.com" in entry["exception"]
    assert "https://hooks.example.com/…" in entry["exception"]
    assert entry["endpoint"] == "a***@example.com" and entry["topic"] == "https://hooks.example.com/…"
    for endpoint in ENDPOINTS:
        assert endpoint not in stream.getvalue() and endpoint.replace("/", "\\/") not in stream.getvalue()


def test_the_formatter_masks_even_on_a_handler_without_the_filter():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "to %s", (ENDPOINTS[0],), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "to a***@example.com"


def test_other_values_are_written_as_their_text_masked(logged, rf):
    from datetime import UTC, datetime

    logger, lines, _ = logged
    request = rf.get("/admin/subscriptions/subscription/", {"q": ENDPOINTS[0]})  # as django.request passes it
    extra = {"eta": datetime(2026, 12, 3, 19, 50, tzinfo=UTC), "ids": {1, 2}, "request": request, "status_code": 404}
    logger.warning("Not Found: %s", request.path, extra=extra)
    [entry] = lines()
    assert entry["eta"] == "2026-12-03 19:50:00+00:00" and entry["ids"] == "{1, 2}" and entry["status_code"] == 404
    # Django's str(request) quotes the query string percent-encoded: still masked.
    assert entry["request"] == "<WSGIRequest: GET '/admin/subscriptions/subscription/?q=a***@example.com'>"


def test_an_address_or_number_percent_encoded_in_a_request_line_is_masked(capsys, monkeypatch):
    from gunicorn.config import Config

    from config.gunicorn_logging import ContactDataLogger

    monkeypatch.setenv("NOTIFIER_LOG_FORMAT", "json")
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = ContactDataLogger(cfg)
    logger.access_log.info('"GET /admin/?q=alice%40example.com&p=%2B447700900123 HTTP/1.1" 200')
    line = json.loads(capsys.readouterr().out)["message"]
    assert line == '"GET /admin/?q=a***@example.com&p=+44*******123 HTTP/1.1" 200'


def test_a_worker_process_names_itself_on_every_line_as_its_delivery_attempts_do(logged, monkeypatch):
    logger, lines, _ = logged
    logger.info("before")
    monkeypatch.setattr(json_logging, "_worker_host", None)
    name_worker_lines()
    logger.info("after")
    before, after = lines()
    assert "worker" not in before and after["worker"] == worker_name() == f"{os.uname().nodename}:{os.getpid()}"


def test_celery_notices_printed_past_logging_are_json_too(tmp_path):
    path = tmp_path / "out"
    with path.open("w") as stream:
        json_say("\nworker: Warm shutdown (MainProcess)\n", stream)
    entry = json.loads(path.read_text())
    assert entry["message"] == "worker: Warm shutdown (MainProcess)" and entry["logger"] == "celery.apps.worker"


def test_gunicorn_writes_json_lines_masked_when_asked(capsys, monkeypatch):
    from gunicorn.config import Config

    from config.gunicorn_logging import ContactDataLogger

    monkeypatch.setenv("NOTIFIER_LOG_FORMAT", "json")
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    logger = ContactDataLogger(cfg)
    logger.access_log.info('"GET /admin/?q=%(q)s HTTP/1.1" 200', {"q": ENDPOINTS[0]})
    logger.error("bad request from %s", ENDPOINTS[1])
    captured = capsys.readouterr()
    access, error = json.loads(captured.out), json.loads(captured.err)
    assert access["message"] == '"GET /admin/?q=a***@example.com HTTP/1.1" 200'
    assert error["message"] == "bad request from +44*******123" and error["logger"] == "gunicorn.error"
    assert all(type(f) is ContactDataFilter for h in logger.access_log.handlers for f in h.filters)


def test_the_settings_take_text_or_json_and_refuse_anything_else():
    code = "import config.settings as s; print(s.NOTIFIER_LOG_FORMAT, s.LOGGING['handlers']['console']['formatter'])"
    env = {**os.environ, "DJANGO_DEBUG": "true"}
    for given, expected in (("", "text plain"), ("JSON", "json json"), ("text", "text plain")):
        result = subprocess.run([sys.executable, "-c", code], env={**env, "NOTIFIER_LOG_FORMAT": given} if given
                                else {k: v for k, v in env.items() if k != "NOTIFIER_LOG_FORMAT"},
                                cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert result.stdout.strip() == expected, result.stderr
    refused = subprocess.run([sys.executable, "-c", code], env={**env, "NOTIFIER_LOG_FORMAT": "xml"}, cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode != 0 and "NOTIFIER_LOG_FORMAT must be text or json" in refused.stderr
