from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from delivery.channels import template_part
from delivery.models import DeliveryAttempt, InboxMessage, MessageTemplate, Notification
from delivery.rendering import MAX_TEMPLATE_CHARS, template_check
from delivery.selectors import failure_reason_sql


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


class FailureReasonFilter(admin.SimpleListFilter):
    """The rows of one failure reason, as the dashboard groups them (linked from its table)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []  # reached from the dashboard's links, not listed

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if not self.value():
            return queryset
        return queryset.annotate(reason=RawSQL(failure_reason_sql(), [])).filter(reason=self.value())


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
    list_filter = ["state", ("due_at", admin.DateFieldListFilter), "event__topic", FailureReasonFilter]
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


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "topic", "title", "starts_at", "created_at", "read_at"]
    list_filter = ["topic"]
    search_fields = ["user__username", "title"]
    list_select_related = ["user", "topic"]
    date_hierarchy = "starts_at"


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["topic", "part", "source"]
        help_texts = {
            "source": "Django template language. Variables: event.title, event.description, topic.name, "
            "starts_at, starts_at_text, starts_time_text, lead_minutes, notification_key. "
            "The in-app body is HTML, autoescaped, then cleaned to formatting tags and http(s)/mailto links "
            "(no scripts, images or styles); the other parts are plain text. At most "
            f"{MAX_TEMPLATE_CHARS} characters."
        }

    def clean(self) -> dict:
        data = super().clean()
        part = template_part(data.get("part") or "")  # None when the choice was refused already
        if part is not None and data.get("source") is not None:
            try:
                template_check(part, data["source"])
            except ValidationError as exc:
                self.add_error("source", exc.message_dict["source"])
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["topic", "part", "updated_at"]
    list_filter = ["part", "topic"]
    list_select_related = ["topic"]
