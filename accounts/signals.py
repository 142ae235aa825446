"""A password change revokes every API token of the user, whichever path changed it.

The admin's password form, ``manage.py changepassword`` and ``set_password()`` followed
by ``save()`` share no service this project could call; the one place they all pass is
the save of django.contrib.auth's user model. Hence receivers, against the habit of
keeping flow out of signals: a token minted before the change must not outlive it.

The hash stored before the save is compared with the one being saved. Django's own hash
upgrade at login (``check_password`` re-hashes with newer parameters and saves only
``password``, after resetting ``_password``: "hash upgrades shouldn't be considered
password changes") changes the hash but not the password, so it keeps the tokens.
"""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.services import tokens_revoke_all

_CHANGED = "_accounts_password_changed"


def _is_hash_upgrade(user: Any, update_fields: frozenset[str] | None) -> bool:
    # set_password() keeps the new raw password in _password until the save; the
    # upgrade path clears it before saving only the password column.
    return update_fields == frozenset({"password"}) and getattr(user, "_password", None) is None


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.note_password_change")
def note_password_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    if raw or instance.pk is None:  # a fixture being loaded; a new user has no tokens yet
        return
    if update_fields is not None and "password" not in update_fields:  # e.g. last_login at each login
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    changed = stored is not None and stored != instance.password
    setattr(instance, _CHANGED, changed and not _is_hash_upgrade(instance, update_fields))


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # After the save, in its transaction: a rolled-back change keeps the tokens.
    if getattr(instance, _CHANGED, False):
        setattr(instance, _CHANGED, False)
        tokens_revoke_all(user_id=instance.pk)
