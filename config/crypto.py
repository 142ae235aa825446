"""Contact data at rest (docs/decisions/0010): an authenticated cipher for the values and
a keyed hash (blind index) to find and compare them without the clear text.

A leaf: it reads settings and nothing of the apps. The keys are read from settings on
every call and the cipher is cached per key tuple, so ``override_settings`` (a rotation
test, a new key list) takes effect at once.
"""

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "InvalidToken",
    "blind_index",
    "decrypt_text",
    "encrypt_text",
    "is_under_newest_key",
    "rotate_text",
]

# Fixed: changing it changes every digest (then run ``rotate_encryption_keys``).
_BLIND_INDEX_INFO = b"notifier.blind-index.v1"


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("NOTIFIER_ENCRYPTION_KEYS is empty: contact data cannot be encrypted")
    return MultiFernet([Fernet(key) for key in keys])


@lru_cache(maxsize=8)
def _newest(key: str) -> Fernet:
    return Fernet(key)


def _keys() -> tuple[str, ...]:
    return tuple(settings.NOTIFIER_ENCRYPTION_KEYS)


def encrypt_text(value: str) -> str:
    """A Fernet token (ASCII) under the newest key; random IV, so equal values differ."""
    return _cipher(_keys()).encrypt(value.encode()).decode("ascii")


def decrypt_text(token: str) -> str:
    """The clear text under any configured key; raises ``InvalidToken`` when none fits
    (or the token was altered: Fernet is authenticated)."""
    return _cipher(_keys()).decrypt(token.encode("ascii")).decode()


def rotate_text(token: str) -> str:
    """The same value re-encrypted under the newest key (``InvalidToken`` as decrypt)."""
    return _cipher(_keys()).rotate(token.encode("ascii")).decode("ascii")


def is_under_newest_key(token: str) -> bool:
    try:
        _newest(_keys()[0]).decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


@lru_cache(maxsize=8)
def _derived_index_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_BLIND_INDEX_INFO).derive(secret_key.encode())


def _index_key() -> bytes:
    configured = getattr(settings, "NOTIFIER_BLIND_INDEX_KEY", "")
    if configured:
        return configured.encode()
    # Unset: derived from SECRET_KEY, so rotating that secret changes every digest.
    return _derived_index_key(settings.SECRET_KEY)


def blind_index(value: str) -> str:
    """HMAC-SHA256 (hex, 64 characters) of a value already in canonical form: equal
    values give equal digests, so lookups and unique constraints use it instead of the
    clear text. The empty value stays empty (rows without an endpoint: in-app)."""
    if not value:
        return ""
    return hmac.new(_index_key(), value.encode(), hashlib.sha256).hexdigest()
