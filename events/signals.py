"""Domain signals of the events app, sent by its services once the change is committed.

Apps above (the scheduler, the SNS mirror) act on them; this app imports none of them.
"""

from django.dispatch import Signal

# An event was created, moved, had its lead changed or was cancelled; kwargs: event_id.
event_changed = Signal()
# A topic was created or edited; kwargs: topic_id.
topic_saved = Signal()
