"""The forms the admin builds, read as the admin reads them (channel and part choices)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory


def values(choices) -> list[str]:
    return [value for value, _ in choices if value]  # a form's blank choice is not a channel


def admin_form(model):
    """The form class the admin builds for a request (afresh each time, as in the admin)."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_active=True, is_superuser=True)
    return admin.site._registry[model].get_form(request)


def admin_form_field(model, name: str):
    return admin_form(model).base_fields[name]
