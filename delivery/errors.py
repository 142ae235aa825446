"""What can go wrong talking to SNS, sorted into retry-worthy and not."""

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "InternalErrorException",
        "ServiceUnavailable",
        "KMSThrottling",
    }
)


class DeliveryError(Exception):
    """A publish that did not happen; ``permanent`` says whether a retry could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        return DeliveryError(f"{code}: {error.get('Message', '')}".strip(), permanent=not transient)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)
    if isinstance(exc, BotoCoreError):
        return DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)
    return DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)
