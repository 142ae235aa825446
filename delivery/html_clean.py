"""The in-app body is HTML that API clients show as HTML: after rendering, it is cleaned
with an allow-list (nh3, the Ammonia sanitiser), so a topic's template cannot put a
script, an event handler or a ``javascript:`` link into users' inboxes. Autoescaping
already keeps an event's text from adding markup; this bounds what the template's own
markup may be.
"""

import nh3

# Text formatting and links; no images (a remote image tracks who opened the message),
# no forms, no style (it can overlay the client's own UI), no class or id.
ALLOWED_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "code", "em", "h3", "h4", "i", "li", "ol", "p", "pre", "small", "span",
     "strong", "time", "u", "ul"}
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "time": {"datetime"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Every link: the opened page gets no handle on the client's window, and no referrer.
LINK_REL = "noopener noreferrer"


def inbox_html_clean(html: str) -> str:
    """The HTML with only the allowed tags, attributes and link schemes left; the content of
    ``script`` and ``style`` goes with them, other refused tags leave their text."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
