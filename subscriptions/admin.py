from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTextInputWidget
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_forms import add_service_errors
from config.encrypted_fields import EncryptedTextField
from subscriptions.channels import channel_kinds
from subscriptions.models import EndpointVerification, Preference, Subscription
from subscriptions.selectors import endpoint_digests
from subscriptions.services import subscription_clean, subscription_create, subscription_resync, subscription_update


class SubscriptionAdminForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["user", "topic", "channel", "endpoint", "platform", "active"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("channel") and data.get("topic"):
            try:
                data["endpoint"], data["platform"] = subscription_clean(
                    topic=data["topic"], channel=data["channel"], endpoint=data.get("endpoint", ""),
                    platform=data.get("platform", ""),
                )  # fmt: skip
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class EndpointSearchMixin:
    """Search by endpoint: the column is encrypted (docs/decisions/0010), so a term
    matches an endpoint exactly, through its digest (the term as typed and in each
    channel's canonical form), never by a LIKE on clear text. The other search fields
    keep Django's search."""

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            digests = {digest for kind in channel_kinds() for digest in endpoint_digests(kind.name, term)}
            results |= queryset.filter(endpoint_digest__in=digests)
        return results, may_have_duplicates


@admin.register(Subscription)
class SubscriptionAdmin(EndpointSearchMixin, admin.ModelAdmin):
    form = SubscriptionAdminForm
    formfield_overrides = {EncryptedTextField: {"widget": AdminTextInputWidget}}
    list_display = ["id", "user", "topic", "channel", "endpoint", "active", "status", "created_at"]
    list_filter = ["channel", "active", "status", "topic"]
    search_fields = ["user__username", "user__email", "topic__slug"]
    list_select_related = ["user", "topic"]
    readonly_fields = [
        "inactive_reason",
        "status",
        "sns_subscription_arn",
        "sns_endpoint_arn",
        "sync_error",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["user"]
    actions = ["resync"]

    def save_model(self, request: HttpRequest, obj: Subscription, form: forms.ModelForm, change: bool) -> None:
        # Through the services, as the API goes: they validate and announce the change to
        # the SNS mirror. The form's clean already put endpoint and platform in canonical form.
        fields = {name: form.cleaned_data[name] for name in ("endpoint", "platform", "active")}
        if change:
            subscription_update(subscription=obj, **fields)
            return
        created = subscription_create(
            user=form.cleaned_data["user"], topic=form.cleaned_data["topic"], channel=form.cleaned_data["channel"],
            **fields,
        )  # fmt: skip
        obj.pk = created.pk

    @admin.action(description="Sync the selected subscriptions with SNS now")
    def resync(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        subscription_resync(subscription_ids=ids)
        self.message_user(request, f"{len(ids)} subscription(s) sent to SNS sync.", messages.SUCCESS)


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "muted_channels", "updated_at"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    filter_horizontal = ["muted_topics"]


@admin.register(EndpointVerification)
class EndpointVerificationAdmin(EndpointSearchMixin, admin.ModelAdmin):
    """Who proved which address or number (docs/decisions/0008). Read-only: a proof is
    made only by its code. Deleting one revokes it; the next ``sync_sns`` takes the
    user's rows to that endpoint out of SNS. The code hash is never shown."""

    list_display = ["user", "channel", "endpoint", "verified_at", "attempts", "code_expires_at", "created_at"]
    list_filter = ["channel", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    fields = ["user", "channel", "endpoint", "verified_at", "attempts", "code_expires_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EndpointVerification | None = None) -> bool:
        return False
