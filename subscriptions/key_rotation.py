"""Re-encrypt contact data under the newest key and recompute its digests
(``manage.py rotate_encryption_keys``, docs/decisions/0010).

Every model of the project with an ``EncryptedTextField`` is covered, found through the
app registry (not imported: whichever app adds an encrypted column is rotated too). Rows
go in pk order, one transaction per batch, locked while rewritten; a row already under
the newest key with a correct digest is left alone, so a rerun after an interruption
picks up where the last one stopped, and a second run changes nothing.
"""

from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from config.crypto import InvalidToken, blind_index, decrypt_text, is_under_newest_key, rotate_text
from config.encrypted_fields import BlindIndexField, EncryptedTextField


class UndecryptableRow(Exception):
    """A value no configured key opens: names the row, never the value."""


@dataclass
class RotationCount:
    model: str
    rotated: int = 0
    current: int = 0
    digest_fixed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.model}: {self.rotated} rotated, {self.current} already current, {self.digest_fixed} digest(s) fixed"
        )


def encrypted_models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if any(isinstance(field, EncryptedTextField) for field in model._meta.concrete_fields)
    ]


def _raw(name: str) -> str:
    return f"_raw_{name}"


def _batch(model: type[models.Model], names: list[str], after: object, size: int) -> list[dict]:
    """The next rows in pk order, locked: pk, each digest, and each encrypted column as
    stored (a Cast to plain text, so the field does not decrypt it on the way out)."""
    digests = [f.attname for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
    raw = {_raw(name): Cast(name, models.TextField()) for name in names}
    rows = model._default_manager.select_for_update().order_by("pk").annotate(**raw)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    return list(rows.values("pk", *digests, *raw)[:size])


def _rotate_row(model: type[models.Model], row: dict, names: list[str], count: RotationCount) -> None:
    changes: dict[str, object] = {}
    clear: dict[str, str] = {}
    for name in names:
        token = row[_raw(name)] or ""
        if not token:
            clear[name] = ""
            continue
        try:
            clear[name] = decrypt_text(token)
        except InvalidToken:
            raise UndecryptableRow(
                f"{model._meta.label} pk={row['pk']}: its {name} cannot be decrypted by any key in "
                "NOTIFIER_ENCRYPTION_KEYS (add back the key it was written under); earlier batches are done"
            ) from None
        if not is_under_newest_key(token):
            # As stored: a Value, so the field does not encrypt the token once more.
            changes[name] = models.Value(rotate_text(token), output_field=models.TextField())
    rotated = bool(changes)
    for field in model._meta.concrete_fields:
        if isinstance(field, BlindIndexField) and field.source in clear:
            digest = blind_index(clear[field.source])
            if row[field.attname] != digest:
                changes[field.attname] = digest
                count.digest_fixed += 1
    if rotated:
        count.rotated += 1
    else:
        count.current += 1
    if changes:
        model._default_manager.filter(pk=row["pk"]).update(**changes)


def rotate_model(model: type[models.Model], *, batch_size: int) -> RotationCount:
    """Bring every row of one model under the newest key with current digests; raises
    ``UndecryptableRow`` at the first row no key opens (earlier batches stay committed)."""
    names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
    count = RotationCount(model._meta.label)
    after = None
    while True:
        with transaction.atomic():  # one batch, one transaction: an interruption loses one batch
            batch = _batch(model, names, after, batch_size)
            for row in batch:
                _rotate_row(model, row, names, count)
        if not batch:
            return count
        after = batch[-1]["pk"]
