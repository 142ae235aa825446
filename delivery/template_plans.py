"""A faster way through the templates every message renders (issue 15).

Django's per-node machinery (the Context stack, each node's annotated render, the
language lookups of ``localize``) cost more than the text it makes: five parts a
message, on every notification of a burst. ``compile_plan`` reads a compiled Django
``Template`` made only of text, comments, variables (dict lookups, any filter with
constant arguments) and ``{% if %}`` on one such variable, and returns a plan that
renders the same text from a plain dict.

A plan renders what Django renders or declines; it never guesses:
- a template with anything else in it (a ``{% for %}``, a variable argument, a
  translated string) gets no plan, and Django renders it;
- a value the plan cannot turn into text the way Django would (a date, a missing
  variable, a lazy string) raises ``Unsupported`` while rendering, and the caller
  renders that part with Django.
"""

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template import Template, Variable
from django.template.base import FilterExpression, NodeList, TextNode, VariableNode
from django.template.defaulttags import CommentNode, IfNode, TemplateLiteral
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import template_localtime


class Unsupported(Exception):
    """This template or value is left to Django."""


@dataclass(frozen=True)
class _Filter:
    """A filter, its constant arguments and the flags Django reads off it on every call."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    localtime: bool
    autoescape: bool
    keeps_safe: bool

    @classmethod
    def of(cls, func: Callable[..., Any], args: tuple[Any, ...]) -> "_Filter":
        flags = (bool(getattr(func, name, False)) for name in ("expects_localtime", "needs_autoescape", "is_safe"))
        return cls(func, args, *flags)


@dataclass(frozen=True)
class _Expression:
    """A variable and its filters: Django's ``FilterExpression.resolve`` on a dict."""

    lookups: tuple[str, ...]
    filters: tuple[_Filter, ...]

    def resolve(self, values: dict[str, Any], autoescape: bool) -> Any:
        current: Any = values
        for bit in self.lookups:
            # Django tries an item first; anything but a present dict key takes its other paths.
            if type(current) is not dict or bit not in current:
                raise Unsupported
            current = current[bit]
            if callable(current):  # Django would call it
                raise Unsupported
        for step in self.filters:  # as FilterExpression.resolve applies them
            if step.localtime:
                current = template_localtime(current, None)
            if step.autoescape:
                result = step.func(current, *step.args, autoescape=autoescape)
            else:
                result = step.func(current, *step.args)
            current = mark_safe(result) if step.keeps_safe and isinstance(current, SafeData) else result
        return current


def _expression(expression: FilterExpression) -> _Expression:
    variable = expression.var
    if not isinstance(variable, Variable) or variable.lookups is None or variable.translate:
        raise Unsupported  # a literal or a translated string
    filters = [_Filter.of(func, tuple(_argument(*arg) for arg in args)) for func, args in expression.filters]
    return _Expression(tuple(variable.lookups), tuple(filters))


def _argument(is_variable: bool, argument: Any) -> Any:
    """A filter argument as Django passes it: a quoted constant marked safe, a number
    literal as it is; one read from the context has no plan."""
    if not is_variable:
        return mark_safe(argument)
    if argument.lookups is not None or argument.translate:
        raise Unsupported
    return argument.literal


def _text(value: Any, autoescape: bool) -> str:
    """Django's ``render_value_in_context`` for the values it leaves as they are: text,
    and integers while no thousand separator is in use."""
    if isinstance(value, str):
        return html.escape(value) if autoescape and not hasattr(value, "__html__") else value
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    raise Unsupported


@dataclass(frozen=True)
class _Variable:
    expression: _Expression

    def __call__(self, values: dict[str, Any], autoescape: bool) -> str:
        try:
            value = self.expression.resolve(values, autoescape)
        except UnicodeDecodeError:  # as Django's VariableNode.render
            return ""
        return _text(value, autoescape)


@dataclass(frozen=True)
class _If:
    branches: tuple[tuple[_Expression | None, "Plan"], ...]  # None: the else branch

    def __call__(self, values: dict[str, Any], autoescape: bool) -> str:
        for condition, plan in self.branches:
            if condition is None or condition.resolve(values, autoescape):
                return plan.render(values, autoescape)
        return ""


@dataclass(frozen=True)
class Plan:
    steps: tuple[str | _Variable | _If, ...]

    def render(self, values: dict[str, Any], autoescape: bool) -> str:
        return "".join([step if isinstance(step, str) else step(values, autoescape) for step in self.steps])


def _condition(condition: object) -> _Expression | None:
    if condition is None:
        return None
    if type(condition) is not TemplateLiteral:  # and, or, not, ==, in...
        raise Unsupported
    return _expression(condition.value)


def _plan(nodes: NodeList) -> Plan:
    steps: list[str | _Variable | _If] = []
    for node in nodes:
        if type(node) is TextNode:
            steps.append(node.s)
        elif type(node) is VariableNode:
            steps.append(_Variable(_expression(node.filter_expression)))
        elif type(node) is IfNode:
            steps.append(_If(tuple((_condition(c), _plan(n)) for c, n in node.conditions_nodelists)))
        elif type(node) is not CommentNode:  # which renders nothing
            raise Unsupported
    return Plan(tuple(steps))


def compile_plan(template: Template) -> Plan | None:
    """The template's plan, or None when Django must render it."""
    try:
        return _plan(template.nodelist)
    except Unsupported:
        return None
