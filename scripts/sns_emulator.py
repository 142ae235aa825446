"""The local SNS/SQS emulator: moto's server, made to behave like SNS in one respect.

SNS delivers to https subscribers on its own, after the Publish has succeeded, and
retries an endpoint that is down. moto posts to them inside the Publish instead, so one
unreachable webhook fails the whole publish, and every other channel of the topic with
it. Here a failed https delivery is logged and the publish stands, as on AWS.
"""

import logging
import sys
from typing import Any

from moto.sns import models

logger = logging.getLogger("sns-emulator")
_moto_deliver = models.Subscription.publish


def _deliver(self: Any, *args: Any, **kwargs: Any) -> None:
    try:
        _moto_deliver(self, *args, **kwargs)
    except Exception as exc:
        if self.protocol not in ("http", "https"):
            raise
        logger.warning("delivery to %s failed (%s); SNS would retry it, the publish stands", self.endpoint, exc)


def install() -> None:
    """Patch moto in this process (the in-process test server, or the one started below)."""
    models.Subscription.publish = _deliver


if __name__ == "__main__":
    from moto.server import main

    install()
    sys.exit(main(sys.argv[1:]))
