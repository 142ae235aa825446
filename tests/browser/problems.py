"""What a page did wrong while a test drove it: console errors, uncaught exceptions,
same-origin requests that failed or answered 4xx/5xx, and any request to another host (the
console must work with no network beyond the engine: no CDN, no web font, no tracker).
Collected per browser context (every page and popup of the test) and checked after each
test by tests/browser/conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, ConsoleMessage, Request, Response, WebError

LOCAL_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class PageProblems:
    origin: str  # the live server's scheme://host:port; other origins are not the engine's
    found: list[str] = field(default_factory=list)
    # Responses a test provokes on purpose (a 403 for a non-staff user): (status, path) pairs.
    expected: set[tuple[int, str]] = field(default_factory=set)

    def watch(self, context: BrowserContext) -> PageProblems:
        context.on("console", self._console)
        context.on("weberror", self._web_error)
        context.on("response", self._response)
        context.on("requestfailed", self._request_failed)
        context.on("request", self._request)
        return self

    def expect(self, status: int, path: str) -> None:
        """Allow one status for one path in this test (the test asserts it itself)."""
        self.expected.add((status, path))

    def _same_origin(self, url: str) -> bool:
        return url == self.origin or url.startswith(self.origin + "/")

    def _expected(self, status: int, url: str) -> bool:
        return (status, url.removeprefix(self.origin).split("?")[0]) in self.expected

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        # Chromium logs every failed load as well; an expected response is not an error.
        failed_load = re.match(r"Failed to load resource: the server responded with a status of (\d+)", message.text)
        if failed_load and self._same_origin(where) and self._expected(int(failed_load.group(1)), where):
            return
        self.found.append(f"console error at {where}: {message.text}")

    def _web_error(self, error: WebError) -> None:
        self.found.append(f"uncaught page error: {error.error}")

    def _response(self, response: Response) -> None:
        failed = response.status >= 400 and self._same_origin(response.url)
        if failed and not self._expected(response.status, response.url):
            path = response.url.removeprefix(self.origin)
            self.found.append(f"{response.status} for {response.request.method} {path}")

    def _request(self, request: Request) -> None:
        if not self._same_origin(request.url) and not request.url.startswith(LOCAL_SCHEMES):
            self.found.append(f"request to another host: {request.method} {request.url}")

    def _request_failed(self, request: Request) -> None:
        # ERR_ABORTED is the browser dropping a load itself: the test moved on to the next
        # page while an icon of this one was still coming. Not the server's failure.
        if self._same_origin(request.url) and request.failure != "net::ERR_ABORTED":
            self.found.append(f"request failed: {request.method} {request.url} ({request.failure})")
