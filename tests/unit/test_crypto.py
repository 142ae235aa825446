"""The cipher and the blind index of contact data at rest (config/crypto.py,
config/encrypted_fields.py, docs/decisions/0010), and the start-up check of the keys."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.test import override_settings

from config.crypto import blind_index, decrypt_text, encrypt_text, is_under_newest_key, rotate_text
from config.encrypted_fields import with_blind_indexes
from subscriptions.models import EndpointVerification, Subscription

ROOT = Path(__file__).resolve().parents[2]
K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))


def test_text_reads_back_and_equal_values_encrypt_differently():
    with override_settings(NOTIFIER_ENCRYPTION_KEYS=(K1,)):
        first, second = encrypt_text("ann@example.com"), encrypt_text("ann@example.com")
        assert first != second and "ann" not in first
        assert decrypt_text(first) == decrypt_text(second) == "ann@example.com"


def test_older_keys_still_decrypt_and_rotation_moves_to_the_newest():
    with override_settings(NOTIFIER_ENCRYPTION_KEYS=(K1,)):
        old = encrypt_text("+447700900123")
    with override_settings(NOTIFIER_ENCRYPTION_KEYS=(K2, K1)):
        assert decrypt_text(old) == "+447700900123" and not is_under_newest_key(old)
        new = rotate_text(old)
        assert is_under_newest_key(new)
    assert Fernet(K2).decrypt(new.encode()) == b"+447700900123"
    with override_settings(NOTIFIER_ENCRYPTION_KEYS=(K3,)), pytest.raises(InvalidToken):
        decrypt_text(old)


def test_an_altered_token_is_refused():
    with override_settings(NOTIFIER_ENCRYPTION_KEYS=(K1,)):
        token = encrypt_text("fcm-token")
        altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        with pytest.raises(InvalidToken):
            decrypt_text(altered)


def test_the_blind_index_is_a_keyed_hash_of_the_value():
    with override_settings(NOTIFIER_BLIND_INDEX_KEY="index-key-one"):
        digest = blind_index("ann@example.com")
        assert len(digest) == 64 and int(digest, 16) >= 0
        assert blind_index("ann@example.com") == digest != blind_index("bob@example.com")
        assert blind_index("") == ""  # rows without an endpoint (in-app)
    with override_settings(NOTIFIER_BLIND_INDEX_KEY="index-key-two"):
        assert blind_index("ann@example.com") != digest


def test_without_its_own_key_the_index_follows_the_secret_key():
    with override_settings(NOTIFIER_BLIND_INDEX_KEY="", SECRET_KEY="secret-one"):
        one = blind_index("ann@example.com")
    with override_settings(NOTIFIER_BLIND_INDEX_KEY="", SECRET_KEY="secret-two"):
        assert blind_index("ann@example.com") != one
    with override_settings(NOTIFIER_BLIND_INDEX_KEY="", SECRET_KEY="secret-one"):
        assert blind_index("ann@example.com") == one


def test_an_encrypted_field_refuses_every_lookup_but_isnull():
    field = Subscription._meta.get_field("endpoint")
    assert field.get_lookup("isnull") is not None
    assert [name for name in ("exact", "iexact", "in", "contains", "startswith") if field.get_lookup(name)] == []


def test_the_digest_is_set_on_save_and_follows_the_endpoint_in_update_fields():
    row = EndpointVerification(channel="sms", endpoint="+447700900123")
    field = EndpointVerification._meta.get_field("endpoint_digest")
    assert field.pre_save(row, add=True) == row.endpoint_digest == blind_index("+447700900123")
    assert with_blind_indexes(row, ["endpoint", "updated_at"]) == {"endpoint", "endpoint_digest", "updated_at"}
    assert with_blind_indexes(row, ["attempts"]) == {"attempts"}
    assert with_blind_indexes(row, None) is None


def load_settings(**variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTIFIER_ENCRYPTION_KEYS")}
    env |= {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x", **variables}
    code = "import config.settings as s; print(len(s.NOTIFIER_ENCRYPTION_KEYS))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)


def test_settings_require_valid_keys_and_never_print_one(tmp_path):
    missing = load_settings()
    assert missing.returncode != 0 and "NOTIFIER_ENCRYPTION_KEYS (or NOTIFIER_ENCRYPTION_KEYS_FILE)" in missing.stderr
    bad_key = "not-a-fernet-key-but-maybe-a-secret"
    bad = load_settings(NOTIFIER_ENCRYPTION_KEYS=f"{K1}, {bad_key}")
    assert bad.returncode != 0 and "key 2 of 2 is not a Fernet key" in bad.stderr and bad_key not in bad.stderr
    key_file = tmp_path / "keys"
    key_file.write_text(f" {K2} ,\n{K1}\n")  # whitespace and a trailing newline around the keys
    good = load_settings(NOTIFIER_ENCRYPTION_KEYS_FILE=str(key_file))
    assert good.returncode == 0 and good.stdout.strip() == "2", good.stderr
