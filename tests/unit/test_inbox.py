"""The in-app inbox consumer's liveness, as pure time math (the consumer against moto's
SNS → SQS is in tests/integration/test_inbox.py)."""

import threading

from delivery.inbox import InboxConsumer


def test_a_consumer_stuck_in_one_turn_no_longer_counts_as_turning():
    """What the consume_inbox heartbeat follows: a long poll plus 30 s, then a hang."""
    consumer = InboxConsumer(fifo=False, wait_seconds=20, stop=threading.Event())
    started = consumer.last_turn
    assert consumer.is_turning(now=started + 49)
    assert not consumer.is_turning(now=started + 50)
