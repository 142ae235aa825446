from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from subscriptions.models import Subscription
from subscriptions.validation import normalize_endpoint


class SubscriptionAdminForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["user", "topic", "channel", "endpoint", "active"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("channel"):
            try:
                data["endpoint"] = normalize_endpoint(data["channel"], data.get("endpoint", ""))
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ["id", "user", "topic", "channel", "endpoint", "active", "status", "created_at"]
    list_filter = ["channel", "active", "status", "topic"]
    search_fields = ["user__username", "user__email", "endpoint", "topic__slug"]
    list_select_related = ["user", "topic"]
    readonly_fields = ["status", "sns_subscription_arn", "created_at", "updated_at"]
    raw_id_fields = ["user"]
