"""The in-app body's allow-list (nh3) and the template size bound: pure functions."""

import pytest
from django.core.exceptions import ValidationError

from delivery.channels.in_app import IN_APP_BODY
from delivery.html_clean import inbox_html_clean
from delivery.rendering import MAX_TEMPLATE_CHARS, template_check


def test_scripts_handlers_and_javascript_links_are_removed():
    hostile = (
        '<script>alert(1)</script><img src=x onerror="alert(2)"><p onclick="x()" style="position:fixed">hi</p>'
        '<a href="javascript:alert(3)">a</a><a href="JaVaScRiPt:alert(4)">b</a><a href="data:text/html,x">c</a>'
        "<iframe src='https://example.com'></iframe><!-- note --><form action=/x><input></form>"
    )
    clean = inbox_html_clean(hostile)
    for gone in ("script", "alert", "onerror", "onclick", "style", "javascript", "data:", "iframe", "<img",
                 "note", "<form", "<input"):  # fmt: skip
        assert gone not in clean.lower(), (gone, clean)
    assert "<p>hi</p>" in clean


def test_ordinary_markup_survives_and_links_open_safely():
    html = (
        '<p><strong>Final</strong> starts <time datetime="2026-11-21T14:30:00+00:00">14:30 UTC</time>.</p>'
        '<ul><li><em>one</em></li></ul><p>Q&amp;A<br>more: <a href="https://example.com/x?a=1&amp;b=2">'
        'details</a> or <a href="mailto:ops@example.com">mail</a></p>'
    )
    clean = inbox_html_clean(html)
    assert '<p><strong>Final</strong> starts <time datetime="2026-11-21T14:30:00+00:00">14:30 UTC</time>.</p>' in clean
    assert "<ul><li><em>one</em></li></ul>" in clean and "Q&amp;A<br>" in clean
    assert '<a href="https://example.com/x?a=1&amp;b=2" rel="noopener noreferrer">details</a>' in clean
    assert '<a href="mailto:ops@example.com" rel="noopener noreferrer">mail</a>' in clean


def test_a_template_over_the_size_bound_is_refused_with_a_field_error():
    with pytest.raises(ValidationError) as refused:
        template_check(IN_APP_BODY, "x" * (MAX_TEMPLATE_CHARS + 1))
    assert f"at most {MAX_TEMPLATE_CHARS} characters" in refused.value.message_dict["source"][0]
    template_check(IN_APP_BODY, "<p>{{ event.title }}</p>" + " " * (MAX_TEMPLATE_CHARS - 24))  # at the bound: fine
