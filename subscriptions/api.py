from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_fields import SlugLookupField
from events.models import Topic
from subscriptions import services
from subscriptions.channels import channel_choices
from subscriptions.models import Preference, PushPlatform, Subscription
from subscriptions.selectors import muted_by, subscription_is_muted, user_mutes


class SubscriptionSerializer(serializers.ModelSerializer):
    topic = SlugLookupField(slug_field="slug", queryset=Topic.objects.all())
    platform = serializers.ChoiceField(
        choices=PushPlatform.choices, required=False, allow_blank=True,
        help_text="Push only; default NOTIFIER_PUSH_DEFAULT_PLATFORM.",
    )  # fmt: skip
    muted = serializers.SerializerMethodField(help_text="Muted by the user's preferences (topic or channel).")

    class Meta:
        model = Subscription
        fields = ["id", "topic", "channel", "endpoint", "platform", "active", "inactive_reason", "status", "muted",
                  "sync_error", "created_at"]  # fmt: skip
        read_only_fields = ["inactive_reason", "status", "sync_error", "created_at"]
        validators: list[object] = []  # uniqueness per user is checked by the service

    def get_muted(self, subscription: Subscription) -> bool:
        mutes = self.context.get("mutes")
        return subscription_is_muted(subscription) if mutes is None else muted_by(mutes, subscription)


class SubscriptionFilter(django_filters.FilterSet):
    topic = django_filters.CharFilter(field_name="topic__slug")

    class Meta:
        model = Subscription
        fields = ["topic", "channel", "active"]


class SubscriptionViewSet(viewsets.ModelViewSet):
    """The current user's subscriptions; other users' are invisible (404)."""

    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter

    def get_queryset(self) -> QuerySet[Subscription]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Subscription.objects.none()
        return Subscription.objects.filter(user=self.request.user).select_related("topic")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if self.request and self.request.user.is_authenticated:
            context["mutes"] = user_mutes(self.request.user.pk)  # one query for a whole page
        return context

    def perform_create(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_create(user=self.request.user, **serializer.validated_data)
        serializer.instance.refresh_from_db()  # the SNS sync after commit set its status

    def perform_update(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_update(
            subscription=serializer.instance, **serializer.validated_data
        )
        serializer.instance.refresh_from_db()

    def perform_destroy(self, instance: Subscription) -> None:
        services.subscription_delete(subscription=instance)


class ChannelField(serializers.ChoiceField):
    """A channel name. The choices are read from the registry whenever a serializer is
    built (DRF re-creates declared fields per serializer instance), not at import."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=channel_choices(), **kwargs)


class PreferenceSerializer(serializers.ModelSerializer):
    muted_topics = SlugLookupField(slug_field="slug", queryset=Topic.objects.all(), many=True, required=False)
    muted_channels = serializers.ListField(child=ChannelField(), required=False, allow_empty=True)

    class Meta:
        model = Preference
        fields = ["muted_topics", "muted_channels", "updated_at"]
        read_only_fields = ["updated_at"]


class PreferenceView(APIView):
    """The current user's mutes: muted topics and channels deliver nothing, the
    subscriptions stay (no re-confirming an email address on unmute)."""

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request: Request) -> Response:
        return Response(PreferenceSerializer(services.preference_get(user=request.user)).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        serializer = PreferenceSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preference = services.preference_update(
            user=request.user,
            muted_topics=data.get("muted_topics", None if partial else []),
            muted_channels=data.get("muted_channels", None if partial else []),
        )
        return Response(PreferenceSerializer(preference).data)
