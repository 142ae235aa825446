"""Browser tests: Debian's Chromium driven by Playwright against a live server on the test
database (``make browser-check``; excluded from ``make test``).

- The server is pytest-django's ``live_server``: Django's threaded WSGI server in this
  process, serving the static files too, on the test database. Tests that plant data use
  it through ``transactional_db`` (which ``live_server`` brings in), so rows are committed
  and the server's threads see them.
- Playwright's sync API runs an asyncio event loop in this thread (its calls switch into
  it through greenlets), and while it is up Django's async-unsafe guard refuses ORM calls
  from the test itself ("SynchronousOnlyOperation: You cannot call this from an async
  context"). Nothing here is async: the loop only talks to the browser, and each ORM call
  still runs alone on this thread's connection. So ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set
  for as long as the browser runs, and put back afterwards.
- Every test's pages are watched (problems.PageProblems): a console error, an uncaught
  exception or a failed same-origin request fails the test after its own assertions.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.browser.chromium import LAUNCH_ARGS, ensure_chromium
from tests.browser.problems import PageProblems
from tests.e2e.conftest import start_worker
from tests.engine import LOG_DIR

STAFF_USERNAME = "console-ops"
STAFF_PASSWORD = "Console-ops-pw-2026!"
# One action, navigation or expectation. The live server answers in milliseconds, but CI runs
# these tests beside deploy-check and the fuzz run on two cores: generous, never a sleep.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    try:
        ensure_chromium()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as driver:
        yield driver
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(ensure_chromium()), args=LAUNCH_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def plain_http_cookies(settings) -> None:
    """The live server speaks plain HTTP; with DJANGO_DEBUG off the session and CSRF
    cookies are Secure (docs/decisions/0012) and a browser would not send them back."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def page_problems(live_server) -> PageProblems:
    return PageProblems(origin=live_server.url)


@pytest.fixture
def context(browser: Browser, live_server, page_problems: PageProblems) -> Iterator[BrowserContext]:
    """A fresh browser profile per test (no cookies carried over), its pages watched."""
    browser_context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    browser_context.set_default_timeout(TIMEOUT_MS)
    page_problems.watch(browser_context)
    yield browser_context
    browser_context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def console_staff(transactional_db):
    """The operator: staff with every permission, as on-call is in the admin."""
    return get_user_model().objects.create_superuser(STAFF_USERNAME, password=STAFF_PASSWORD, email="ops@example.com")


def log_in(page: Page, username: str, password: str) -> None:
    """Through the admin's login form, as a person does."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def staff_page(page: Page, console_staff) -> Page:
    """A page logged in as the operator, on the admin index."""
    log_in(page, STAFF_USERNAME, STAFF_PASSWORD)
    assert page.url.endswith("/admin/"), f"login did not reach the admin index: {page.url}"
    return page


@pytest.fixture
def start_fire_worker(moto_server) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts a real Celery worker on the test database and Redis db when the test calls it,
    after it planted its rows: the broker is emptied first, so the fire tasks that planting
    enqueued (rows the test then moved to failed or expired) never run, and only what the
    page's action enqueues does. Stopped at the end of the test."""
    import redis as redis_lib
    from django.conf import settings

    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        broker = redis_lib.Redis.from_url(settings.CELERY_BROKER_URL)
        assert broker.connection_pool.connection_kwargs.get("db", 0) != 0
        broker.flushdb()
        started.append(start_worker("browser", LOG_DIR / "worker-browser.log"))
        return started[-1]

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test (not its teardown) when its pages logged an error or a request failed."""
    result = yield
    problems = item.funcargs.get("page_problems") if hasattr(item, "funcargs") else None
    if problems is not None and problems.found:
        raise AssertionError("the pages had problems:\n" + "\n".join(problems.found))
    return result
