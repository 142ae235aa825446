"""Subscriber-facing text from Django templates: one file per message part, which a
topic may override with its own source (``MessageTemplate``, edited in the admin).

Text parts render with autoescaping off (an SMS must not read ``&amp;``); the in-app
body is HTML and renders with it on, so an event title cannot inject markup.
"""

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils import timezone

from delivery.template_plans import Plan, Unsupported, compile_plan

# A topic's template for one part: generous for any message (SNS takes 256 KiB for all
# channels together), small enough that a template cannot crowd out the rest.
MAX_TEMPLATE_CHARS = 10_000


@dataclass(frozen=True)
class TemplatePart:
    """One part of one channel's message, declared by its channel adapter. The name is
    stored in ``MessageTemplate.part`` rows; ``html`` turns autoescaping on."""

    name: str
    html: bool = False

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").title()

    @property
    def default_file(self) -> str:
        """The template used when the topic has no override of its own."""
        return f"notifications/{self.name}.{'html' if self.html else 'txt'}"


@functools.cache
def _engine(html: bool) -> Engine:
    return Engine(app_dirs=True, autoescape=html)


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Template:
    return _engine(html).from_string(source)


def _display_times(starts_at: datetime, zone_name: str) -> tuple[datetime, str, str, str]:
    """The start in the display zone, and its texts the templates show."""
    if starts_at.tzinfo is UTC:  # the ledger's values
        return _display_times_of_utc(starts_at, zone_name)
    return _format_display_times(starts_at, zone_name)


@functools.lru_cache(maxsize=1024)
def _display_times_of_utc(starts_at: datetime, zone_name: str) -> tuple[datetime, str, str, str]:
    """Remembered only for values in UTC itself, where equal values are one instant (see
    config.utc). A burst is many events starting at the same few instants."""
    return _format_display_times(starts_at, zone_name)


def _format_display_times(starts_at: datetime, zone_name: str) -> tuple[datetime, str, str, str]:
    starts = timezone.localtime(starts_at, ZoneInfo(zone_name))
    zone = starts.tzname()
    return starts, starts.isoformat(), f"{starts:%a %d %b %Y, %H:%M} {zone}", f"{starts:%H:%M} {zone}"


@dataclass(frozen=True)
class MessageFacts:
    """What every template sees; built from the ledger or from a received message."""

    notification_id: int
    key: str
    event_id: int
    title: str
    description: str
    topic_slug: str
    topic_name: str
    starts_at: datetime
    due_at: datetime
    lead_minutes: int

    @functools.cached_property
    def context(self) -> dict[str, Any]:
        """Built once per message: every part of every channel renders from it."""
        starts, starts_iso, starts_text, time_text = _display_times(self.starts_at, settings.NOTIFIER_DISPLAY_TIMEZONE)
        return {
            "event": {"id": self.event_id, "title": self.title, "description": self.description},
            "topic": {"slug": self.topic_slug, "name": self.topic_name},
            "starts_at": starts,
            "starts_at_iso": starts_iso,
            "starts_at_text": starts_text,
            "starts_time_text": time_text,
            "due_at": self.due_at,
            "lead_minutes": self.lead_minutes,
            "notification_key": self.key,
        }


class Renderer:
    """Renders the parts of one topic's messages; load it once per topic and batch
    (``delivery.selectors.renderer_for_topic`` reads the topic's overrides)."""

    def __init__(self, overrides: dict[str, str]) -> None:
        self.overrides = overrides  # part name -> template source
        self._templates: dict[tuple[str, bool], tuple[Template, Plan | None]] = {}
        self._zoned = False  # inside ``display_zone``: the time zone is already active

    def _template(self, part: TemplatePart) -> tuple[Template, Plan | None]:
        """Looked up once per renderer: the loader's and the compile cache's lookups cost
        more than the render of a short part (issue 15)."""
        key = (part.name, part.html)
        found = self._templates.get(key)
        if found is None:
            source = self.overrides.get(part.name)
            if source is not None:
                template = _compile(source, part.html)
            else:
                template = _engine(part.html).get_template(part.default_file)
            found = self._templates[key] = (template, compile_plan(template))
        return found

    @contextlib.contextmanager
    def display_zone(self) -> Iterator["Renderer"]:
        """Activate the display time zone once around many renders (every part of a
        message, or of many) instead of once per part; what renders is the same."""
        if self._zoned:
            yield self
            return
        with timezone.override(ZoneInfo(settings.NOTIFIER_DISPLAY_TIMEZONE)):
            self._zoned = True
            try:
                yield self
            finally:
                self._zoned = False

    def render(self, part: TemplatePart, facts: MessageFacts, **extra: Any) -> str:
        if not self._zoned:
            with self.display_zone():
                return self.render(part, facts, **extra)
        template, plan = self._template(part)
        if plan is not None:
            try:
                return plan.render({**facts.context, **extra} if extra else facts.context, part.html).strip()
            except Unsupported:
                pass  # a value only Django knows how to show: Django renders this part
        # Only templates a plan cannot follow get here. The pushed layer takes what the
        # template sets, so the message's shared facts dict is never written to.
        context = Context(facts.context, autoescape=part.html)
        with context.push(extra):
            return template.render(context).strip()


def template_check(part: TemplatePart, source: str) -> None:
    """Refuse a template that is too long, or does not compile or render, with the reason,
    before it is saved."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise ValidationError(
            {"source": f"A template is at most {MAX_TEMPLATE_CHARS} characters; this one has {len(source)}."}
        )
    sample = MessageFacts(
        notification_id=1, key="sample", event_id=1, title="Sample event", description="Sample description",
        topic_slug="sample", topic_name="Sample topic", starts_at=timezone.now(), due_at=timezone.now(),
        lead_minutes=10,
    )  # fmt: skip
    try:
        Renderer({part.name: source}).render(part, sample)
    except TemplateSyntaxError as exc:
        raise ValidationError({"source": f"Template error: {exc}"}) from exc
    except Exception as exc:  # a filter that fails on real data fails here first
        raise ValidationError({"source": f"Template fails to render: {type(exc).__name__}: {exc}"}) from exc
