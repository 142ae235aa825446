"""Domain signals of the subscriptions app, sent by its services once the change is
committed; the SNS mirror (delivery) follows them, and this app imports none of it."""

from django.dispatch import Signal

# A subscription was created or edited, or an operator asked for it to be synced again;
# kwargs: subscription_id.
subscription_changed = Signal()
# A user's muted topics or channels changed; kwargs: user_id.
preferences_changed = Signal()
