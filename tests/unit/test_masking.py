"""Masking contact data in logs (issue 13): mask_endpoint and the log filter."""

import logging
import sys

import pytest

from config.masking import ContactDataFilter, endpoint_masked_in, mask_endpoint, scrub_contact_data


@pytest.mark.parametrize(
    ("endpoint", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("a@example.co.uk", "a***@example.co.uk"),
        ("+447700900123", "+44*******123"),
        ("+12025550123", "+12******123"),
        ("https://hooks.example.com/notify?key=s3cret", "https://hooks.example.com/…"),
        ("https://user:pw@hooks.example.com:8443/x", "https://hooks.example.com:8443/…"),
        ("http://[::1]:8080/hook", "http://[::1]:8080/…"),
        ("fcm-device-token-0123456789abcdef", "…cdef"),
        ("short", "…"),
        ("", "…"),
    ],
)
def test_mask_endpoint_shows_only_its_harmless_part(endpoint, masked):
    assert mask_endpoint(endpoint) == masked


def test_a_phone_number_without_its_plus_is_taken_for_a_token():
    assert mask_endpoint("447700900123") == "…0123"


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-22T11:28:27+00:00 sent notification=12 event=3 lag_ms=447700900123 sns_message_id=9f1",
        "2026-11-22 11:28:27,123 +0000 plan window hours=48",
        "topic arn=arn:aws:sns:us-east-1:123456789012:notifier-topic-x",
        "Task notifier.fire[7c9e6679-7425-40de-944b-e07fc1f90ae7] succeeded in 0.01s",
        "retry in=1e+10s id=12345678901234",
        "readiness on http://localhost:4566 and http://redis:6379/",
    ],
)
def test_the_filter_leaves_lines_without_contact_data_alone(line):
    assert scrub_contact_data(line) == line


def test_the_filter_masks_every_kind_in_one_line():
    line = "to alice@example.com, +447700900123 and https://hooks.example.com/p?q=1."
    assert scrub_contact_data(line) == "to a***@example.com, +44*******123 and https://hooks.example.com/…."


def test_the_filter_masks_a_url_with_userinfo_even_without_a_path():
    assert scrub_contact_data("GET https://bob:pw@example.com") == "GET https://example.com/…"


def _record(msg: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_the_filter_rewrites_the_final_message_and_drops_the_args():
    record = _record("x %s", "alice@example.com")
    assert ContactDataFilter().filter(record) is True
    assert (record.getMessage(), record.args) == ("x a***@example.com", ())


def test_the_filter_masks_the_traceback():
    try:
        raise ValueError("cannot reach https://hooks.example.com/secret-path")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    ContactDataFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "secret-path" not in text
    assert "https://hooks.example.com/…" in text


@pytest.mark.parametrize("signal", ["after_setup_logger", "after_setup_task_logger"])
def test_celery_logging_keeps_the_filter_on_the_handlers_it_installs(signal):
    """A worker or beat replaces the root logger's handlers (worker_hijack_root_logger)."""
    from celery import signals

    import config.celery_app  # noqa: F401  (connects the receivers)

    logger = logging.Logger(f"celery-{signal}")
    logger.addHandler(logging.StreamHandler())
    for _ in range(2):  # connected once per handler, however often Celery sets up logging
        getattr(signals, signal).send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None,
                                      format="%(message)s", colorize=False)  # fmt: skip
    assert [type(f) for f in logger.handlers[0].filters] == [ContactDataFilter]


def test_gunicorn_masks_a_query_string_in_its_access_and_error_logs(capsys):
    from gunicorn.config import Config

    from config import gunicorn as gunicorn_settings
    from config.gunicorn_logging import ContactDataLogger

    assert gunicorn_settings.logger_class == "config.gunicorn_logging.ContactDataLogger"
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    logger = ContactDataLogger(cfg)
    logger.access_log.info('"GET /admin/accounts/?q=%(q)s HTTP/1.1" 200', {"q": "alice@example.com"})
    logger.error("bad request from +447700900123")
    captured = capsys.readouterr()
    assert "?q=a***@example.com" in captured.out and "+44*******123" in captured.err
    assert "alice@" not in captured.out + captured.err and "+447700900123" not in captured.err


def test_a_device_token_quoted_in_an_error_is_masked_where_its_endpoint_is_known():
    error = "Invalid parameter: Token fcm-device-token-0123456789abcdef is not registered"
    assert endpoint_masked_in(error, "fcm-device-token-0123456789abcdef") == (
        "Invalid parameter: Token …cdef is not registered"
    )
    assert endpoint_masked_in(error, "") == error
