"""API tokens in the admin: who holds one and until when, never a key.

knox's own admin lists digests but edits every column (``token_key``, the first
characters of the key, included) and prints a new key in a flash message. Tokens come
from the API; here operators see them and revoke them (delete), nothing else.
"""

from django.contrib import admin
from django.http import HttpRequest
from knox.models import AuthToken

admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ["short_digest", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    date_hierarchy = "created"
    fields = ["short_digest", "user", "created", "expiry"]
    readonly_fields = fields

    @admin.display(description="digest (SHA-512 of the key)")
    def short_digest(self, token: AuthToken) -> str:
        return f"{token.digest[:16]}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False  # read-only; delete revokes
