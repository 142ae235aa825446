"""API tokens: issued, revoked, revoked all at once. django-rest-knox keeps only a
SHA-512 digest of each key and its expiry; the key itself is seen once, by the caller
of ``token_issue`` (docs/decisions/0009-api-tokens.md)."""

from django.contrib.auth.base_user import AbstractBaseUser
from knox.models import AuthToken


def token_issue(*, user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new token for ``user``, expiring after NOTIFIER_TOKEN_TTL_HOURS: (row, key)."""
    return AuthToken.objects.create(user=user)


def token_revoke(*, token: AuthToken) -> None:
    token.delete()


def tokens_revoke_all(*, user_id: int) -> int:
    """Deletes every token of the user (logout everywhere, password change): how many."""
    deleted, _ = AuthToken.objects.filter(user_id=user_id).delete()
    return deleted
