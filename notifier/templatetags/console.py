"""``{% metric name value %}``: one figure of the console, with the stable ``data-metric``
name and raw ``data-value`` that browser tests compare with the ledger. A tag, not an
include: the page shows some sixty figures and an include each cost a third of its render."""

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()
NO_FIGURE = "\u2013"  # an en dash


@register.simple_tag
def metric(name: str, value: Any, unit: str = "", missing: str = NO_FIGURE) -> SafeString:
    if value is None:
        return format_html('<span data-metric="{}" data-value="">{}</span>', name, missing)
    return format_html('<span data-metric="{}" data-value="{}">{}{}</span>', name, value, value, unit)
