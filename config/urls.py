from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings

from delivery.api import EventNotificationsView, InboxViewSet, NotificationViewSet
from events.api import EventViewSet, TopicViewSet
from notifier.views import HOST_AGNOSTIC_ROUTES
from subscriptions.api import PreferenceView, SubscriptionViewSet


class TokenView(ObtainAuthToken):
    """POST /api/v1/auth/token/, held to the strict "auth" rate (NOTIFIER_THROTTLE_AUTH) on top
    of the per-address one: password guessing is what this endpoint invites."""

    throttle_classes = api_settings.DEFAULT_THROTTLE_CLASSES  # DRF's view has none at all
    throttle_scope = "auth"


router = DefaultRouter()
router.register("topics", TopicViewSet, basename="topic")
router.register("events", EventViewSet, basename="event")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("inbox", InboxViewSet, basename="inbox")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", TokenView.as_view(), name="api-token"),
    path(
        "api/v1/events/<int:event_id>/notifications/",
        EventNotificationsView.as_view(),
        name="event-notifications",
    ),
    path("api/v1/preferences/", PreferenceView.as_view(), name="preferences"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    *(path(route, view, name=route) for route, view in HOST_AGNOSTIC_ROUTES.items()),  # /healthz, /readyz, /metrics
]
