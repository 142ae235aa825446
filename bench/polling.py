"""The polling peer: the design the seeds replaced. Once a minute, query the due
notifications and send them one by one (render, publish, mark sent), single-threaded,
as such a loop is usually written.

    python -m bench.polling --interval 60 --first-poll-in 30 --run-for 120

Prints one JSON line: polls made, notifications sent, database queries it ran.
"""

from __future__ import annotations

import argparse
import json
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--first-poll-in", type=float, default=0.0)
    parser.add_argument("--run-for", type=float, required=True, help="seconds, or until nothing is left to send")
    parser.add_argument("--until-sent", type=int, default=0, help="stop once this many are sent")
    args = parser.parse_args()
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from delivery.aws import sns_client
    from delivery.messages import build_message
    from delivery.models import Notification, NotificationState
    from notifier.scheduling import lag_ms

    queries = 0

    def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202 (Django's wrapper protocol)
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    sns = sns_client()
    polls = sent = 0
    started = time.monotonic()
    next_poll = started + args.first_poll_in
    with connection.execute_wrapper(count):
        while time.monotonic() - started < args.run_for and not (args.until_sent and sent >= args.until_sent):
            time.sleep(max(0.0, min(next_poll, started + args.run_for) - time.monotonic()))
            if time.monotonic() < next_poll:
                break
            next_poll += args.interval
            polls += 1
            due = Notification.objects.filter(state=NotificationState.PLANNED, due_at__lte=timezone.now())
            for row in due.select_related("event__topic"):
                message = build_message(row, row.event, row.event.topic)
                message_id = sns.publish(**message.publish_kwargs())["MessageId"]
                now = timezone.now()
                Notification.objects.filter(pk=row.pk).update(
                    state=NotificationState.SENT, sent_at=now, sns_message_id=message_id, lag_ms=lag_ms(row.due_at, now)
                )
                sent += 1
    print(json.dumps({"polls": polls, "sent": sent, "queries": queries}))


if __name__ == "__main__":
    main()
