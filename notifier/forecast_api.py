"""``GET /api/v1/forecast/`` and ``POST /api/v1/forecast/what-if/`` (staff): tomorrow's
load for clients and capacity planning (notifier/forecast.py); the what-if writes nothing."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_fields import AwareDateTimeField
from events.models import MAX_LEAD_MINUTES
from notifier.forecast import BUCKET_SECONDS, MAX_HOURS, Addition, Forecast, forecast

MAX_ADDITIONS = 1000
MAX_COUNT = 100_000


class WindowSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=MAX_HOURS, default=24, help_text="From the current minute.")
    bucket = serializers.IntegerField(
        min_value=60, max_value=3600, default=60,
        help_text=f"Seconds per bucket, one of {', '.join(map(str, BUCKET_SECONDS))}.",
    )  # fmt: skip

    def validate_bucket(self, value: int) -> int:
        if value not in BUCKET_SECONDS:
            raise serializers.ValidationError(f"Must be one of {', '.join(map(str, BUCKET_SECONDS))}.")
        return value


class AdditionSerializer(serializers.Serializer):
    starts_at = AwareDateTimeField(help_text="When the hypothetical events start.")
    lead_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_LEAD_MINUTES, required=False, allow_null=True,
        help_text="Empty: the default lead (NOTIFIER_LEAD_MINUTES).",
    )  # fmt: skip
    count = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, default=1, help_text="Notifications there.")


class WhatIfSerializer(WindowSerializer):
    additions = serializers.ListField(child=AdditionSerializer(), min_length=1, max_length=MAX_ADDITIONS)


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    due = serializers.IntegerField()


class ForecastSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The first bucket's start: the current minute.")
    hours = serializers.IntegerField()
    bucket = serializers.IntegerField(source="bucket_seconds", help_text="Seconds per bucket.")
    total = serializers.IntegerField(help_text="Notifications due in the window.")
    buckets = BucketSerializer(many=True)
    peak = BucketSerializer(help_text="The bucket with most due (the earliest of equals).")
    peak_minute = BucketSerializer(help_text="The minute with most due: what drives the lag.")
    capacity_per_minute = serializers.IntegerField()
    peak_utilisation = serializers.FloatField(help_text="The peak minute's due over a minute's capacity.")
    expected_worst_lag_seconds = serializers.FloatField(
        help_text="Queueing delay of the worst minute at that capacity (the README's model)."
    )


def _answer(result: Forecast) -> Response:
    return Response(ForecastSerializer(asdict(result)).data)


class ForecastView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[WindowSerializer], responses=ForecastSerializer)
    def get(self, request: Request) -> Response:
        """Notifications due per bucket: the ledger's planned and armed rows plus the events
        not planned yet, canary excluded; the peak, the capacity and the lag expected."""
        window = WindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        return _answer(forecast(hours=window.validated_data["hours"], bucket_seconds=window.validated_data["bucket"]))


class ForecastWhatIfView(APIView):
    permission_classes = [IsAdminUser]
    # JSON only: a list of objects has no form encoding, and a form of 1,000 additions would
    # pass Django's field limit (DATA_UPLOAD_MAX_NUMBER_FIELDS) before any validation.
    parser_classes = [JSONParser]

    @extend_schema(request=WhatIfSerializer, responses=ForecastSerializer)
    def post(self, request: Request) -> Response:
        """The forecast with hypothetical events added; nothing is written."""
        body = WhatIfSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        additions = [Addition(**addition) for addition in body.validated_data["additions"]]
        result = forecast(
            hours=body.validated_data["hours"], bucket_seconds=body.validated_data["bucket"], additions=additions
        )
        return _answer(result)
