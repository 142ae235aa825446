import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from delivery import services
from delivery.html_clean import inbox_html_clean
from delivery.models import InboxMessage, Notification, NotificationState
from delivery.selectors import inbox_visible
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


class CleanHtmlField(serializers.CharField):
    """HTML cleaned again on the way out: rows written before the consumer cleaned bodies
    (or by any other path) reach clients with the same allow-list."""

    def to_representation(self, value: str) -> str:
        return inbox_html_clean(super().to_representation(value))


class InboxMessageSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    body = CleanHtmlField(read_only=True, help_text="HTML: only formatting tags and http(s)/mailto links.")
    read = serializers.SerializerMethodField()

    class Meta:
        model = InboxMessage
        fields = ["id", "notification", "event", "topic", "title", "body", "starts_at", "created_at", "read",
                  "read_at"]  # fmt: skip
        read_only_fields = fields

    def get_read(self, message: InboxMessage) -> bool:
        return message.read_at is not None


class InboxFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label="only unread (true)")
    topic = django_filters.CharFilter(field_name="topic__slug")

    class Meta:
        model = InboxMessage
        fields = ["unread", "topic"]


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class InboxViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):  # fmt: skip
    """The current user's in-app messages, newest event first; others' are invisible (404)."""

    serializer_class = InboxMessageSerializer
    filterset_class = InboxFilter

    def get_queryset(self) -> QuerySet[InboxMessage]:
        if getattr(self, "swagger_fake_view", False):
            return InboxMessage.objects.none()
        return inbox_visible(user=self.request.user).select_related("topic")

    @extend_schema(request=None, responses=InboxMessageSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        message = services.inbox_mark_read(message=self.get_object())
        return Response(self.get_serializer(message).data)

    @extend_schema(request=None, responses=InboxMessageSerializer)
    @action(detail=True, methods=["post"])
    def unread(self, request: Request, pk: str | None = None) -> Response:
        message = services.inbox_mark_unread(message=self.get_object())
        return Response(self.get_serializer(message).data)

    @extend_schema(request=None, responses=UnreadCountSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        services.inbox_mark_all_read(user=request.user)
        return Response({"unread": 0})

    @extend_schema(responses=UnreadCountSerializer)
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})

    def perform_destroy(self, instance: InboxMessage) -> None:
        services.inbox_delete(message=instance)
