"""``POST auth/token/`` (username + password -> a token and its expiry), ``auth/logout/``
(revokes the token used) and ``auth/logout-all/`` (revokes all the user's tokens)."""

from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in, user_logged_out
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.authentication import TokenAuthentication


class CredentialsSerializer(serializers.Serializer):
    """The same checks and messages as DRF's AuthTokenSerializer, which the endpoint used before."""

    username = serializers.CharField(write_only=True)
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # An inactive user authenticates as nobody (ModelBackend), so gets the same reply.
        user = authenticate(request=self.context.get("request"), username=attrs["username"], password=attrs["password"])
        if user is None:
            raise serializers.ValidationError("Unable to log in with provided credentials.", code="authorization")
        return {"user": user}


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only this once.")
    expiry = serializers.DateTimeField(help_text="When the token stops working (NOTIFIER_TOKEN_TTL_HOURS).")


class ObtainTokenView(APIView):
    authentication_classes: list[type] = []  # credentials travel in the body
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_scope = "auth"  # a stricter rate: this endpoint checks passwords

    @extend_schema(request=CredentialsSerializer, responses={200: IssuedTokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        user = credentials.validated_data["user"]
        row, key = services.token_issue(user=user)
        user_logged_in.send(sender=user.__class__, request=request, user=user)  # last_login
        return Response(IssuedTokenSerializer({"token": key, "expiry": row.expiry}).data)


class LogoutView(APIView):
    """Revokes the token this request carries; the user's other tokens keep working."""

    authentication_classes = [TokenAuthentication]  # a session has no token to revoke
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.token_revoke(token=request.auth)
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revokes every token of the user, this one included."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.tokens_revoke_all(user_id=request.user.pk)
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
