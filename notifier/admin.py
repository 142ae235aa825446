"""On-call's actions in the admin (issue 14, point 4): "retry now" and "send anyway" on
the ledger, "preview notification" on an event; the canary's runs, read-only; the link
to the console on the admin index.

They act through the scheduler (``notifier.operator_actions``, ``notifier.preview``),
which the delivery and events apps may not import, so this module extends their admins
and registers the extended ones in their place, as ``accounts.admin`` does for knox.
Every action is written to Django's admin log with the operator; a send is also a
``DeliveryAttempt``, written by the fire path that makes it.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from delivery import admin as delivery_admin
from delivery.models import Notification
from events import admin as events_admin
from events.models import Event
from notifier.models import CanaryRun
from notifier.operator_actions import (
    SEND_ANYWAY_WINDOW_SECONDS,
    ActionResult,
    notifications_retry_now,
    notifications_send_anyway,
    send_anyway_candidates,
)
from notifier.preview import event_preview

# The admin index with a link to the console (issue 14); the stock index otherwise.
admin.site.index_template = "admin/console_index.html"

admin.site.unregister(Notification)
admin.site.unregister(Event)

# The admin index with a link to the console (issue 14); the stock index otherwise.
admin.site.index_template = "admin/console_index.html"


def _ids(rows: list[int]) -> str:
    return ", ".join(f"#{pk}" for pk in rows)


@admin.register(Notification)
class NotificationAdmin(delivery_admin.NotificationAdmin):
    actions = ["retry_now", "send_anyway"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # The ledger is read-only in the admin; acting on it takes the model's change right.
        return request.user.has_perm("delivery.change_notification")

    def _report(self, request: HttpRequest, action: str, result: ActionResult, what: str) -> None:
        for row in Notification.objects.filter(pk__in=result.done).order_by("pk"):
            self.log_change(request, row, f"{action}: {what}")
        if result.done:
            self.message_user(request, f"{action}: {_ids(result.done)} {what}.", messages.SUCCESS)
        if result.refused:
            reasons = "; ".join(f"#{pk} ({why})" for pk, why in sorted(result.refused.items()))
            self.message_user(request, f"{action} refused, left unchanged: {reasons}.", messages.WARNING)

    @admin.action(description="Retry now (failed rows whose deadline has not passed)", permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        result = notifications_retry_now(notification_ids=list(queryset.values_list("pk", flat=True)))
        self._report(request, "Retry now", result, "re-armed from failed; the fire task publishes it now")

    @admin.action(description="Send anyway (expired rows, after confirmation)", permissions=["operate"])
    def send_anyway(self, request: HttpRequest, queryset: QuerySet[Notification]) -> HttpResponse | None:
        ids = list(queryset.values_list("pk", flat=True))
        if request.POST.get("confirm") != "yes":
            eligible, others = send_anyway_candidates(notification_ids=ids)
            context = {
                **self.admin_site.each_context(request),
                "title": "Send expired notifications anyway?",
                "opts": self.model._meta,
                "eligible": eligible,
                "others": others,
                "window_minutes": SEND_ANYWAY_WINDOW_SECONDS // 60,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/delivery/notification/send_anyway_confirmation.html", context)
        result = notifications_send_anyway(notification_ids=ids)
        self._report(request, "Send anyway", result, "re-armed from expired past its deadline; published once now")
        return None


@admin.register(Event)
class EventAdmin(events_admin.EventAdmin):
    change_form_template = "admin/events/event/change_form_with_preview.html"

    def get_urls(self) -> list[URLPattern]:
        preview = path(
            "<int:event_id>/preview/", self.admin_site.admin_view(self.preview_view), name="events_event_preview"
        )
        return [preview, *super().get_urls()]  # before the model's catch-all object URL

    def preview_view(self, request: HttpRequest, event_id: int) -> HttpResponse:
        event = get_object_or_404(Event.objects.select_related("topic"), pk=event_id)
        if not self.has_view_permission(request, event):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {event.title}",
            "opts": self.model._meta,
            "original": event,
            "preview": event_preview(event=event),
        }
        return TemplateResponse(request, "admin/events/event/preview.html", context)


@admin.register(CanaryRun)
class CanaryRunAdmin(delivery_admin.ReadOnlyAdmin):
    """The canary's runs, as the engine recorded them; operators read, never edit."""

    list_display = ["id", "due_at", "state", "lag_ms", "published_at", "received_at", "event"]
    list_filter = ["state"]
    date_hierarchy = "due_at"
    readonly_fields = ["event", "due_at", "published_at", "received_at", "lag_ms", "state", "created_at", "updated_at"]
    list_select_related = ["event"]
