from django.contrib import admin
from django.http import HttpRequest

from notifier.models import CanaryRun


@admin.register(CanaryRun)
class CanaryRunAdmin(admin.ModelAdmin):
    """The canary's runs, as the engine recorded them; operators read, never edit."""

    list_display = ["id", "due_at", "state", "lag_ms", "published_at", "received_at", "event"]
    list_filter = ["state"]
    date_hierarchy = "due_at"
    readonly_fields = ["event", "due_at", "published_at", "received_at", "lag_ms", "state", "created_at", "updated_at"]
    list_select_related = ["event"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
