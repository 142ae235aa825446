"""A template plan renders exactly what Django renders (issue 15), or leaves the part to
Django: checked here on every stock part and on overrides of each kind, against Django
itself, over random event data."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context
from django.test import override_settings

from delivery.channels import adapters
from delivery.rendering import MessageFacts, Renderer, TemplatePart, _compile, _engine
from delivery.template_plans import compile_plan

STOCK_PARTS = [part for channel in adapters() for part in channel.template_parts]
TEXT = TemplatePart("sms_body")
HTML = TemplatePart("in_app_body", html=True)

# Overrides a plan follows: filters with constant arguments, a filter that escapes,
# one that reads a date in the display zone, if/elif/else, a comment.
PLANNED = [
    "{{ event.title|truncatechars:20 }} · {{ topic.name|upper }}",
    "{{ event.description|default:'<i>none</i>' }} {{ lead_minutes|add:5 }} min{{ lead_minutes|pluralize:'ute,utes' }}",
    "{{ starts_at|date:'D H:i' }} {{ due_at|time:'H:i:s' }}",
    "{% if event.description %}<p>{{ event.description|linebreaksbr }}</p>{% elif topic.name %}"
    "{{ topic.name }}{% else %}-{% endif %}",
    "{{ lead_minutes|stringformat:'05d' }} {{ event.title|safe }}{% comment %}x{% endcomment %}",
    "{{ event.title|escape }} {{ event.title|force_escape|slice:':12' }} {{ notification_key|slice:':8' }}",
]
# What a plan must leave to Django: at compile time, or for the value in hand.
NOT_PLANNED = [
    "{% for c in event.title %}{{ c }}{% endfor %}",
    "{% if not event.description %}none{% endif %}",
    "{{ event.title|default:topic.name }}",
    "{% with t=event.title %}{{ t }}{% endwith %}",
    "{{ 'literal' }} {% now 'Y' %}",
]
DEFERRED = ["{{ starts_at }}", "{{ missing }} {{ event.missing }}", "{{ event }}", "{{ True }}"]

PIECES = ["Café", "<b>", "&amp;", '"q"', "'s", "日本", "🎉", "\n", "  ", "x" * 30, "a&b", "</p>", "\\", "%s"]


def _facts(rng: random.Random) -> MessageFacts:
    def text(n: int) -> str:
        return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, n)))

    starts = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 525_600))
    return MessageFacts(
        notification_id=rng.randint(1, 10**9), key=text(3) or "k", event_id=rng.randint(1, 10**9), title=text(6),
        description=text(8), topic_slug="t", topic_name=text(3), starts_at=starts,
        due_at=starts - timedelta(minutes=10), lead_minutes=rng.choice([0, 1, 2, 10, 1440, 12345]),
    )  # fmt: skip


def _django(part: TemplatePart, source: str | None, facts: MessageFacts, **extra: object) -> str:
    template = _compile(source, part.html) if source is not None else _engine(part.html).get_template(part.default_file)
    return template.render(Context({**facts.context, **extra}, autoescape=part.html)).strip()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
@pytest.mark.parametrize("thousands", [False, True])
def test_plans_render_what_django_renders(zone, thousands):
    rng = random.Random(f"{zone}{thousands}")
    overrides = [(part, source) for source in PLANNED + NOT_PLANNED + DEFERRED for part in (TEXT, HTML)]
    cases = [(part, None) for part in STOCK_PARTS] + overrides
    with override_settings(NOTIFIER_DISPLAY_TIMEZONE=zone, USE_THOUSAND_SEPARATOR=thousands):
        for _ in range(60):
            facts = _facts(rng)
            for part, source in cases:
                renderer = Renderer({} if source is None else {part.name: source})
                with renderer.display_zone():
                    assert renderer.render(part, facts) == _django(part, source, facts), (part, source, facts)
                    shorter = {"title": facts.title[:5] + "...", "description": ""}
                    assert renderer.render(part, facts, event=shorter) == _django(part, source, facts, event=shorter)


def test_stock_parts_and_planned_overrides_have_plans_and_the_rest_do_not():
    """The equality above would also hold if nothing had a plan: this is what keeps the
    fast way in use."""
    for part in STOCK_PARTS:
        assert compile_plan(_engine(part.html).get_template(part.default_file)) is not None, part
    for source in PLANNED + DEFERRED:
        assert compile_plan(_compile(source, False)) is not None, source
    for source in NOT_PLANNED:
        assert compile_plan(_compile(source, False)) is None, source


def test_a_filter_that_cannot_decode_renders_nothing_as_in_django():
    from django.template import Engine, Library

    library = Library()

    @library.filter
    def undecodable(value: str) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    engine = Engine()
    engine.template_builtins.append(library)
    template = engine.from_string("[{{ event.title|undecodable }}]")
    values = {"event": {"title": "x"}}
    assert compile_plan(template).render(values, False) == template.render(Context(values)) == "[]"
