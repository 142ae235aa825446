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


class SubscriptionViewSet(viewsets.ModelViewSet):
    """The current user's subscriptions; other users' are invisible (404)."""

    serializer_class = SubscriptionSerializer
    filterset_fields = ["topic__slug", "channel", "active"]

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(user=self.request.user).select_related("topic")

    def perform_create(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: SubscriptionSerializer) -> None:
        serializer.instance = services.subscription_update(
            subscription=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Subscription) -> None:
        services.subscription_delete(subscription=instance)
