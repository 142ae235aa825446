"""``Authorization: Token <key>`` against knox's digests, with the key's shape checked first.

knox decodes the key as UTF-8 and queries by its first characters: a non-UTF-8 byte
would be a 500 and a NUL a database error (503). A key is hex (knox's
``create_token_string``) of a fixed length, so anything else is refused before either.
"""

import re

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions

_HEX = re.compile(rb"[0-9a-f]+")


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple:
        prefix = knox_settings.TOKEN_PREFIX.encode()
        key = token[len(prefix) :] if token.startswith(prefix) else b""
        if len(key) != knox_settings.AUTH_TOKEN_CHARACTER_LENGTH or not _HEX.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the subclass (drf-spectacular matches classes exactly)."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"
