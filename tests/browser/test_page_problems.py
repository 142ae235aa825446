"""The watch that fails browser tests on page problems sees each kind of problem: without
it, "no console error on any page" would pass by seeing nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.problems import PageProblems

pytestmark = [pytest.mark.browser]


def test_console_errors_uncaught_exceptions_and_failed_requests_are_all_caught(
    staff_page: Page, page_problems: PageProblems
):
    assert page_problems.found == []  # logging in and the admin index: clean

    staff_page.evaluate("console.error('planted console error')")
    staff_page.evaluate("setTimeout(() => { throw new Error('planted uncaught error'); }, 0)")
    staff_page.evaluate("fetch('/admin/no-such-page/').catch(() => {})")
    staff_page.evaluate("fetch('http://cdn.example.com/chart.js').catch(() => {})")
    staff_page.wait_for_timeout(500)  # the timer and the fetch settle

    found = "\n".join(page_problems.found)
    assert "planted console error" in found
    assert "planted uncaught error" in found
    assert "404 for GET /admin/no-such-page/" in found
    assert "request to another host: GET http://cdn.example.com/chart.js" in found
    page_problems.found.clear()  # planted here: not the page's fault


def test_a_response_a_test_expects_is_not_a_problem(staff_page: Page, page_problems: PageProblems):
    page_problems.expect(404, "/admin/no-such-page/")
    response = staff_page.goto("/admin/no-such-page/")
    assert response is not None and response.status == 404
    staff_page.wait_for_timeout(200)  # Chromium's own console line about the failed load
    assert page_problems.found == []


def test_the_engine_answers_the_browsers_own_favicon_request_without_an_error(page: Page, live_server):
    response = page.request.get(f"{live_server.url}/favicon.ico")
    assert response.status == 204
    assert "max-age=86400" in response.headers["cache-control"]
