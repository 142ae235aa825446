from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.admin_forms import add_service_errors
from events import services
from events.models import Event, EventChange, Topic

# The latest changes shown on an event's page; all of them are in the history API.
HISTORY_SHOWN = 100
_TOPIC_CREATE_FIELDS = ("slug", "name", "description", "default_lead_minutes", "fifo")


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "default_lead_minutes", "fifo", "sns_topic_arn", "created_at"]
    list_filter = ["fifo"]
    search_fields = ["slug", "name"]
    readonly_fields = ["sns_topic_arn", "created_at", "updated_at"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request: HttpRequest, obj: Topic | None = None) -> list[str]:
        # The slug names the SNS topic, whose type is fixed at creation.
        return [*self.readonly_fields, "slug", "fifo"] if obj else self.readonly_fields

    def get_prepopulated_fields(self, request: HttpRequest, obj: Topic | None = None) -> dict:
        return {} if obj else self.prepopulated_fields

    def save_model(self, request: HttpRequest, obj: Topic, form: forms.ModelForm, change: bool) -> None:
        # Through the services, as the API goes: they validate and announce the change.
        if change:
            services.topic_update(
                topic=Topic.objects.get(pk=obj.pk), **{f: form.cleaned_data[f] for f in form.changed_data}
            )
            return
        created = services.topic_create(**{f: form.cleaned_data[f] for f in _TOPIC_CREATE_FIELDS})
        obj.pk = created.pk  # the admin's redirect and log entry refer to it


class EventAdminForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = ["topic", "title", "description", "starts_at", "lead_minutes"]

    def clean(self) -> dict:
        """The services' own checks, so the admin shows them as form errors."""
        data = super().clean()
        try:
            if self.instance.pk:
                services.event_editable_check(self.instance)
            if "starts_at" in data and (not self.instance.pk or data["starts_at"] != self.instance.starts_at):
                services.event_start_check(data["starts_at"])
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


def _before_after(change: EventChange) -> str:
    pairs = ((field, before, after) for field, (before, after) in change.changes.items())
    return format_html_join("", "<div><b>{}</b>: {} → {}</div>", pairs)


class EventChangeList(ChangeList):
    def get_filters(self, request: HttpRequest) -> tuple:
        # The date hierarchy's drill-down into year 9999 asks for the year after it, which
        # Python cannot represent (rows from before NOTIFIER_EVENT_MAX_DAYS_AHEAD may be
        # that far ahead): the admin's "bad filter" answer instead of a 500.
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    # A read-only field, not an inline: an inline's formset would make every save of the
    # form carry its management data, for rows nobody may edit.
    readonly_fields = ["history"]
    list_display = ["id", "title", "topic", "starts_at", "lead_minutes", "status", "notifications_link"]
    list_filter = ["status", "topic", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["title", "topic__slug", "=id"]
    date_hierarchy = "starts_at"
    list_select_related = ["topic"]
    actions = ["cancel_events"]

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return EventChangeList

    def get_fields(self, request: HttpRequest, obj: Event | None = None) -> list[str]:
        fields = list(EventAdminForm.Meta.fields)
        return [*fields, "history"] if obj else fields  # a new event has no history yet

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False  # cancel instead: the ledger keeps every notification

    def save_model(self, request: HttpRequest, obj: Event, form: forms.ModelForm, change: bool) -> None:
        # Through the services: a locked re-read, only changed columns written, and the
        # change announced, so the event is re-planned.
        if change:
            services.event_update(event=obj, actor=request.user, **{f: form.cleaned_data[f] for f in form.changed_data})
            return
        created = services.event_create(
            actor=request.user, **{f: form.cleaned_data[f] for f in EventAdminForm.Meta.fields}
        )
        obj.pk = created.pk

    @admin.display(description="history")
    def history(self, obj: Event) -> str:
        """Who created, moved, re-led, edited or cancelled the event, newest first."""
        changes = list(obj.changes.order_by("-at", "-id")[:HISTORY_SHOWN])
        if not changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (f"{c.at:%Y-%m-%d %H:%M:%S} UTC", c.actor_label, c.get_action_display(), _before_after(c))
                for c in changes
            ),
        )
        return format_html(
            "<table><thead><tr><th>when</th><th>who</th><th>what</th><th>before → after</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="notifications")
    def notifications_link(self, obj: Event) -> str:
        url = reverse("admin:delivery_notification_changelist") + f"?event__id__exact={obj.pk}"
        return format_html('<a href="{}">ledger</a>', url)

    @admin.action(description="Cancel selected events (their notifications are not sent)")
    def cancel_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        for event in queryset:
            services.event_cancel(event=event, actor=request.user)
        self.message_user(request, f"Cancelled {queryset.count()} event(s).", messages.SUCCESS)
