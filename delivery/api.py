import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import generics, serializers, viewsets
from rest_framework.permissions import IsAdminUser

from delivery.models import Notification, NotificationState
from events.models import Event


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "event",
            "key",
            "lead_minutes",
            "due_at",
            "deadline",
            "state",
            "attempts",
            "sent_at",
            "lag_ms",
            "sns_message_id",
            "last_error",
        ]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=NotificationState.choices)

    class Meta:
        model = Notification
        fields = ["event", "state"]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The ledger: what happened to every notification (staff only)."""

    queryset = Notification.objects.order_by("due_at", "id")
    serializer_class = NotificationSerializer
    permission_classes = [IsAdminUser]
    filterset_class = NotificationFilter


class EventNotificationsView(generics.ListAPIView):
    """One event's notification ledger, oldest due first (staff only)."""

    serializer_class = NotificationSerializer
    permission_classes = [IsAdminUser]

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Notification.objects.none()
        event = get_object_or_404(Event, pk=self.kwargs["event_id"])
        return event.notifications.order_by("due_at", "id")
