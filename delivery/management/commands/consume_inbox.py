import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.heartbeat import Heartbeat
from delivery.inbox import inbox_consumers
from delivery.inbox_wake import InboxAlarm

logger = logging.getLogger(__name__)

# How often the main thread checks its consumer threads and beats for liveness (the
# probe allows 120 s); every second woke an idle consumer 3,600 times an hour (issue 15).
SUPERVISE_SECONDS = 30


class Command(BaseCommand):
    help = "Consume the in-app inbox queues (standard and FIFO) into users' inboxes, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one receive per queue, then exit")
        parser.add_argument(
            "--wait", type=int, default=None, help="long-poll seconds, 0-20 (default NOTIFIER_INBOX_WAIT_SECONDS)"
        )

    def handle(self, *args: Any, once: bool, wait: int | None, **options: Any) -> None:
        if wait is not None and not 0 <= wait <= 20:
            raise CommandError(f"--wait must be between 0 and 20 (SQS's long-poll limit), got {wait}")
        stop = threading.Event()
        alarm = InboxAlarm(stop=stop)
        consumers = inbox_consumers(stop=stop, wait_seconds=wait, alarm=alarm)
        if once:
            handled = sum(consumer.poll_once() for consumer in consumers)
            self.stdout.write(f"handled {handled} message(s)")
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        heartbeat = Heartbeat(role="inbox", directory=settings.NOTIFIER_HEARTBEAT_DIR)
        heartbeat.start()
        threads = [threading.Thread(target=c.run, name=f"inbox-{'fifo' if c.fifo else 'std'}") for c in consumers]
        threads.append(threading.Thread(target=alarm.listen, name="inbox-wake"))
        for thread in threads:
            thread.start()
        logger.info("consuming the inbox queues; SIGTERM or Ctrl-C stops after the current poll")
        # The main thread waits on the event: a signal interrupts the wait (its handler
        # sets the event), so the pace only decides how often the threads are checked.
        try:
            while not stop.wait(SUPERVISE_SECONDS):
                if not all(thread.is_alive() for thread in threads):
                    raise CommandError("an inbox consumer thread died; see the log")
                # Liveness: beat only while both loops turn, so one hung queue is enough to restart.
                if all(consumer.is_turning(now=time.monotonic()) for consumer in consumers):
                    heartbeat.beat()
        finally:
            stop.set()
            alarm.release()  # sleeping loops stop now, not at their next turn
        for thread in threads:
            thread.join()
