"""``/api/v1/verifications/``: prove an email address or a phone number (docs/decisions/0008).

The proof belongs to (user, channel, endpoint), not to one subscription: one code serves
every topic the user follows there, and it can be done before or after subscribing.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from subscriptions import verification
from subscriptions.api import ChannelField
from subscriptions.models import EndpointVerification
from subscriptions.selectors import verification_list


class VerificationRequestSerializer(serializers.Serializer):
    # Every channel (one enum in the schema); those needing no proof get a 400 from the service.
    channel = ChannelField(help_text="email or sms: the channels whose endpoints are proven.")
    endpoint = serializers.CharField(max_length=2048, help_text="The email address or E.164 number.")


class VerificationConfirmSerializer(VerificationRequestSerializer):
    code = serializers.CharField(max_length=16, help_text="The one-time code that reached the endpoint.")


class VerificationSerializer(serializers.ModelSerializer):
    """The caller's own proof; never anything about other users."""

    verified = serializers.SerializerMethodField()
    code_sent = serializers.SerializerMethodField(help_text="Email: false until the SNS link is followed.")
    attempts_left = serializers.SerializerMethodField()

    class Meta:
        model = EndpointVerification
        fields = ["channel", "endpoint", "verified", "verified_at", "code_sent", "code_expires_at", "attempts_left"]

    def get_verified(self, row: EndpointVerification) -> bool:
        return row.verified_at is not None

    def get_code_sent(self, row: EndpointVerification) -> bool:
        return bool(row.code_hash)

    def get_attempts_left(self, row: EndpointVerification) -> int:
        return max(settings.NOTIFIER_VERIFICATION_MAX_ATTEMPTS - row.attempts, 0)


class VerificationListView(APIView):
    """List your proofs, or ask for a code (SMS) / an SNS confirmation link (email)."""

    # The code-sending view: its rate is the "verification" scope (ScopedRateThrottle).
    throttle_scope = "verification"

    def get_throttles(self) -> list[BaseThrottle]:
        # Only sending costs: looking at your proofs (polling an email proof) is not a send.
        throttles = super().get_throttles()
        if self.request.method == "POST":
            return throttles
        return [throttle for throttle in throttles if not isinstance(throttle, ScopedRateThrottle)]

    @extend_schema(responses=VerificationSerializer(many=True))
    def get(self, request: Request) -> Response:
        verification.verification_poll(user=request.user)  # an email link followed: send its code now
        rows = verification_list(user_id=request.user.pk)
        return Response(VerificationSerializer(rows, many=True).data)

    @extend_schema(
        request=VerificationRequestSerializer,
        responses={202: VerificationSerializer, 400: OpenApiResponse(description="Invalid channel or endpoint."),
                   429: OpenApiResponse(description="Hourly send limit reached (Retry-After).")},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        serializer = VerificationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            row = verification.verification_request(user=request.user, **serializer.validated_data)
        except verification.VerificationLimitReached as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from exc
        return Response(VerificationSerializer(row).data, status=status.HTTP_202_ACCEPTED)


class VerificationConfirmView(APIView):
    """Enter the code: on success every subscription of yours to that endpoint goes live."""

    @extend_schema(
        request=VerificationConfirmSerializer,
        responses={200: VerificationSerializer, 400: OpenApiResponse(description="Wrong, expired or locked code.")},
    )
    def post(self, request: Request) -> Response:
        serializer = VerificationConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = verification.verification_confirm(user=request.user, **serializer.validated_data)
        return Response(VerificationSerializer(row).data)
