import django_filters
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from events.models import Topic
from subscriptions import services
from subscriptions.models import Subscription


class SubscriptionSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", queryset=Topic.objects.all())

    class Meta:
        model = Subscription
        fields = ["id", "topic", "channel", "endpoint", "active", "status", "created_at"]
        read_only_fields = ["status", "created_at"]
        validators: list[object] = []  # uniqueness per user is checked by the service


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

    def perform_create(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_update(
            subscription=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Subscription) -> None:
        services.subscription_delete(subscription=instance)
