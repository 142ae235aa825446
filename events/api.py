import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_fields import AwareDateTimeField, SlugLookupField, UtcDateTimeFilter
from config.permissions import StaffWritesOthersRead
from events import services
from events.models import CANARY_TOPIC_SLUG, MAX_LEAD_MINUTES, Event, EventChange, Topic


class TopicSerializer(serializers.ModelSerializer):
    sns_topic_arn = serializers.CharField(read_only=True, help_text="Staff only (it names the AWS account); "
                                          "empty for other users.")  # fmt: skip

    class Meta:
        model = Topic
        fields = ["slug", "name", "description", "default_lead_minutes", "fifo", "sns_topic_arn", "created_at"]
        read_only_fields = ["sns_topic_arn", "created_at"]

    def to_representation(self, instance: Topic) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if not (request and request.user.is_staff):
            # The key stays (the contract's shape, the schema's "required"); the value, with
            # the account id in it, is for staff, who run the AWS side.
            data["sns_topic_arn"] = ""
        return data


class EventSerializer(serializers.ModelSerializer):
    topic = SlugLookupField(slug_field="slug", queryset=Topic.objects.all())
    starts_at = AwareDateTimeField()
    lead_minutes = serializers.IntegerField(min_value=1, max_value=MAX_LEAD_MINUTES, allow_null=True, required=False)

    class Meta:
        model = Event
        fields = [
            "id",
            "topic",
            "title",
            "description",
            "starts_at",
            "lead_minutes",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]


class EventChangeSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True, help_text='Username, or "system" or the '
                                  "command that made the change.")  # fmt: skip
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2),
        read_only=True,
        help_text="Each changed field: [before, after] (times in UTC ISO 8601, the topic by slug).",
    )

    class Meta:
        model = EventChange
        fields = ["id", "action", "actor", "changes", "at"]
        read_only_fields = fields


class EventFilter(django_filters.FilterSet):
    topic = django_filters.CharFilter(field_name="topic__slug")
    starts_after = UtcDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = UtcDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    status = django_filters.ChoiceFilter(choices=Event.Status.choices)

    class Meta:
        model = Event
        fields = ["topic", "starts_after", "starts_before", "status"]


class TopicViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Topic.objects.all()
    serializer_class = TopicSerializer
    permission_classes = [StaffWritesOthersRead]
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"  # what SlugField stores: anything else is a 404, not a query

    def get_queryset(self) -> QuerySet[Topic]:
        # The engine's canary topic (issue 14) is for operators only: not listed, not found.
        queryset = super().get_queryset()
        return queryset if self.request.user.is_staff else queryset.exclude(slug=CANARY_TOPIC_SLUG)

    def perform_create(self, serializer: TopicSerializer) -> None:
        serializer.instance = services.topic_create(**serializer.validated_data)
        serializer.instance.refresh_from_db()  # the SNS ARN is written on commit

    def perform_update(self, serializer: TopicSerializer) -> None:
        serializer.instance = services.topic_update(topic=serializer.instance, **serializer.validated_data)


class EventViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Events on topics. PATCH ``starts_at`` to move one; POST ``cancel/`` to cancel."""

    queryset = Event.objects.select_related("topic")
    serializer_class = EventSerializer
    permission_classes = [StaffWritesOthersRead]
    filterset_class = EventFilter

    def get_queryset(self) -> QuerySet[Event]:
        queryset = super().get_queryset()
        return queryset if self.request.user.is_staff else queryset.exclude(topic__slug=CANARY_TOPIC_SLUG)

    def perform_create(self, serializer: EventSerializer) -> None:
        serializer.instance = services.event_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: EventSerializer) -> None:
        serializer.instance = services.event_update(
            event=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=None, responses=EventSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        event = services.event_cancel(event=self.get_object(), actor=request.user)
        return Response(EventSerializer(event).data)

    @extend_schema(request=None, responses=EventChangeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], permission_classes=[permissions.IsAdminUser], filterset_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        """Staff only: every create, move, lead change, edit and cancel of the event, oldest
        first, with who made it and each field's value before and after."""
        changes = self.get_object().changes.all()
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(EventChangeSerializer(page, many=True).data)
