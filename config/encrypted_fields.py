"""Model fields for contact data at rest (docs/decisions/0010).

``EncryptedTextField`` stores a Fernet token and hands the clear text to Python; the
database never sees the value. Since equal values give different tokens, comparing in
SQL is meaningless: every lookup but ``isnull`` is refused, so a forgotten
``.filter(endpoint=...)`` fails loudly instead of matching nothing. Look values up
through their ``BlindIndexField``.

The empty string stays empty (not encrypted): rows without an endpoint (in-app) would
otherwise all hold ciphertext of nothing, and "has no endpoint" is already said by the
channel column.
"""

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models.expressions import Expression

from config.crypto import blind_index, decrypt_text, encrypt_text


class EncryptedTextField(models.TextField):
    description = "Text encrypted with Fernet (MultiFernet over NOTIFIER_ENCRYPTION_KEYS)"

    def from_db_value(self, value: str | None, expression: Expression, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt_text(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt_text(value)

    def get_lookup(self, lookup_name: str) -> type | None:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django raises FieldError: "Unsupported lookup ..."

    def get_transform(self, lookup_name: str) -> type | None:
        return None


class BlindIndexField(models.CharField):
    """The keyed hash (``config.crypto.blind_index``) of another field's value, set on
    every save and bulk_create from ``source``. ``save(update_fields=[source])`` must
    name this field too: the models' ``save`` does it. ``QuerySet.update`` does not run
    this: whoever updates the source that way updates the digest in the same call."""

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, list, dict]:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, default in (("max_length", 64), ("editable", False), ("blank", True)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        digest = blind_index(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, digest)
        return digest


def with_blind_indexes(model: models.Model, update_fields: Iterable[str] | None) -> set[str] | None:
    """``update_fields`` plus the blind index of every source field it names."""
    if update_fields is None:
        return None
    names = set(update_fields)
    for field in model._meta.concrete_fields:
        if isinstance(field, BlindIndexField) and field.source in names:
            names.add(field.name)
    return names
