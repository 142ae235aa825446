from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from delivery.models import DeliveryAttempt, Notification


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is written by the engine only; operators read it."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "finished_at", "outcome", "error", "sns_message_id", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_link",
        "due_at",
        "deadline",
        "state",
        "attempts",
        "sent_at",
        "lag_ms",
        "sns_message_id",
        "last_error",
    ]
    list_filter = ["state", ("due_at", admin.DateFieldListFilter), "event__topic"]
    search_fields = ["=id", "key", "event__title", "sns_message_id", "=event__id"]
    list_select_related = ["event"]
    date_hierarchy = "due_at"
    ordering = ["-due_at", "-id"]
    inlines = [DeliveryAttemptInline]

    @admin.display(description="event", ordering="event__starts_at")
    def event_link(self, obj: Notification) -> str:
        url = reverse("admin:events_event_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event.title)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification", "number", "started_at", "finished_at", "outcome", "error", "worker"]
    list_filter = ["outcome", ("started_at", admin.DateFieldListFilter)]
    search_fields = ["=notification__id", "notification__key", "sns_message_id", "error"]
    list_select_related = ["notification"]
