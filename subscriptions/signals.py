from django.dispatch import Signal

# Sent after commit when a user's muted topics or channels changed; kwargs: user_id.
preferences_changed = Signal()
