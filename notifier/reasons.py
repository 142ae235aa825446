"""Why a notification left the active states: written to ``last_error`` by the plan,
the reconcile pass and the fire path alike, so an operator reads one wording."""

EVENT_CANCELLED = "event cancelled"
EVENT_MOVED = "event moved or lead changed; replaced by a new notification"
DEADLINE_PASSED = "deadline passed before it could be sent"
SEND_INTERRUPTED = "send interrupted (worker lost); re-armed"
ATTEMPT_ABANDONED = "worker lost during the attempt"
