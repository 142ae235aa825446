from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission


class StaffWritesOthersRead(BasePermission):
    """Any authenticated user reads; only staff create or change."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff
