"""List pages with a ceiling: ``?limit=`` cannot ask for more rows than
NOTIFIER_API_MAX_PAGE_SIZE, so one request cannot make the API read a whole table."""

from typing import Any

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=&offset=`` as DRF has it; a larger limit gets the cap (DRF's ``max_limit``
    clamps, it does not refuse). Read per request, so a settings override applies at once."""

    @property
    def max_limit(self) -> int:
        return settings.NOTIFIER_API_MAX_PAGE_SIZE

    @property
    def default_limit(self) -> int:
        # Without ?limit= DRF returns default_limit rows, which max_limit does not clamp.
        return min(LimitOffsetPagination.default_limit, self.max_limit)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"]["maximum"] = self.max_limit
                parameter["description"] = f"Number of results to return per page (at most {self.max_limit})."
        return parameters
