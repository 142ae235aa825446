from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import LogoutAllView, LogoutView, ObtainTokenView
from config.api_schema import SchemaView
from delivery.api import EventNotificationsView, InboxViewSet, NotificationViewSet
from delivery.views import sns_feedback
from events.api import EventViewSet, TopicViewSet
from notifier.dashboard_views import dashboard_json, dashboard_page
from notifier.forecast_api import ForecastView, ForecastWhatIfView
from notifier.views import HOST_AGNOSTIC_ROUTES
from subscriptions.api import PreferenceView, SubscriptionViewSet
from subscriptions.verification_api import VerificationConfirmView, VerificationListView

router = DefaultRouter()
router.register("topics", TopicViewSet, basename="topic")
router.register("events", EventViewSet, basename="event")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("inbox", InboxViewSet, basename="inbox")

urlpatterns = [
    # Before the admin's own catch-all; admin_view: staff only, others meet the admin login.
    path("admin/dashboard/", admin.site.admin_view(dashboard_page), name="admin-dashboard"),
    path("admin/dashboard/data/", admin.site.admin_view(dashboard_json), name="admin-dashboard-data"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/v1/auth/logout/", LogoutView.as_view(), name="api-logout"),
    path("api/v1/auth/logout-all/", LogoutAllView.as_view(), name="api-logout-all"),
    path(
        "api/v1/events/<int:event_id>/notifications/",
        EventNotificationsView.as_view(),
        name="event-notifications",
    ),
    path("api/v1/forecast/", ForecastView.as_view(), name="forecast"),
    path("api/v1/forecast/what-if/", ForecastWhatIfView.as_view(), name="forecast-what-if"),
    path("api/v1/preferences/", PreferenceView.as_view(), name="preferences"),
    path("api/v1/verifications/", VerificationListView.as_view(), name="verifications"),
    path("api/v1/verifications/confirm/", VerificationConfirmView.as_view(), name="verification-confirm"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("sns/feedback/", sns_feedback, name="sns-feedback"),
    *(path(route, view, name=route) for route, view in HOST_AGNOSTIC_ROUTES.items()),  # /healthz, /readyz, /metrics
]

handler404 = "config.api_errors.not_found"
handler500 = "config.api_errors.server_error"
