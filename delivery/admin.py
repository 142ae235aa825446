from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from delivery.channels import template_part
from delivery.dead_letters import REDRIVE_MAX_MESSAGES, dead_letters_peek, dead_letters_redrive
from delivery.errors import classify
from delivery.models import DeliveryAttempt, InboxMessage, MessageTemplate, Notification
from delivery.queues import inbox_dead_letter_name
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

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.dead_letters_view)
        return [path("dead-letters/", view, name="delivery_inbox_dead_letters"), *super().get_urls()]

    def dead_letters_view(self, request: HttpRequest) -> HttpResponse:
        """The inbox dead-letter queues: depth, a sample, and a redrive button per queue."""
        if not request.user.has_perm("delivery.view_inboxmessage"):
            raise PermissionDenied
        if request.method == "POST":
            return self._redrive(request)
        try:
            queues, error = [dead_letters_peek(fifo=False), dead_letters_peek(fifo=True)], ""
        except Exception as exc:  # SQS unreachable: say so on the page rather than a 500
            queues, error = [], str(classify(exc))
        context = {
            **self.admin_site.each_context(request),
            "title": "Inbox dead-letter queues",
            "opts": self.model._meta,
            "queues": queues,
            "error": error,
            "can_redrive": request.user.has_perm("delivery.change_inboxmessage"),
            "redrive_max": REDRIVE_MAX_MESSAGES,
        }
        return TemplateResponse(request, "admin/delivery/dead_letters.html", context)

    def _redrive(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("delivery.change_inboxmessage"):
            raise PermissionDenied
        queue = request.POST.get("queue")
        if queue not in ("standard", "fifo"):
            return HttpResponseBadRequest("queue: expected 'standard' or 'fifo'")
        fifo = queue == "fifo"
        try:
            result = dead_letters_redrive(fifo=fifo)
        except Exception as exc:
            self.message_user(request, f"Redrive failed: {classify(exc)}", messages.ERROR)
            return redirect("admin:delivery_inbox_dead_letters")
        name = inbox_dead_letter_name(fifo=fifo)
        LogEntry.objects.create(
            user_id=request.user.pk, content_type=ContentType.objects.get_for_model(InboxMessage),
            object_repr=f"dead-letter queue {name}"[:200], action_flag=CHANGE,
            change_message=f"Redrove {result.moved} message(s) from {name} to the inbox queue",
        )  # fmt: skip
        level = messages.WARNING if result.failed or result.left else messages.SUCCESS
        text = f"Redrove {result.moved} message(s) from {name} to the inbox queue; {result.left} left."
        if result.failed:
            text += f" Refused by the inbox queue: {'; '.join(result.failed[:5])}."
        self.message_user(request, text, level)
        return redirect("admin:delivery_inbox_dead_letters")


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
