from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from config.admin_forms import add_service_errors
from events import services
from events.models import Event, Topic

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
    list_display = ["id", "title", "topic", "starts_at", "lead_minutes", "status", "notifications_link"]
    list_filter = ["status", "topic", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["title", "topic__slug", "=id"]
    date_hierarchy = "starts_at"
    list_select_related = ["topic"]
    actions = ["cancel_events"]

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return EventChangeList

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False  # cancel instead: the ledger keeps every notification

    def save_model(self, request: HttpRequest, obj: Event, form: forms.ModelForm, change: bool) -> None:
        # Through the services: a locked re-read, only changed columns written, and the
        # change announced, so the event is re-planned.
        if change:
            services.event_update(event=obj, **{f: form.cleaned_data[f] for f in form.changed_data})
            return
        created = services.event_create(**{f: form.cleaned_data[f] for f in EventAdminForm.Meta.fields})
        obj.pk = created.pk

    @admin.display(description="notifications")
    def notifications_link(self, obj: Event) -> str:
        url = reverse("admin:delivery_notification_changelist") + f"?event__id__exact={obj.pk}"
        return format_html('<a href="{}">ledger</a>', url)

    @admin.action(description="Cancel selected events (their notifications are not sent)")
    def cancel_events(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        for event in queryset:
            services.event_cancel(event=event)
        self.message_user(request, f"Cancelled {queryset.count()} event(s).", messages.SUCCESS)
