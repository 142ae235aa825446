"""Which SNS failures are worth a retry (DESIGN.md 4.5)."""

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from delivery.errors import DeliveryError, classify


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Publish"
    )


@pytest.mark.parametrize(
    "exc",
    [
        client_error("Throttling", 400),
        client_error("ThrottlingException", 400),
        client_error("InternalError", 500),
        client_error("ServiceUnavailable", 503),
        client_error("SomethingNew", 502),
        client_error("TooManyRequestsException", 429),
        EndpointConnectionError(endpoint_url="http://sns"),
        ConnectTimeoutError(endpoint_url="http://sns"),
        ReadTimeoutError(endpoint_url="http://sns"),
    ],
)
def test_transient(exc):
    assert classify(exc).permanent is False


@pytest.mark.parametrize(
    "exc",
    [
        client_error("InvalidParameter", 400),  # also what SNS answers for an oversize message
        client_error("InvalidParameterValue", 400),
        client_error("NotFound", 404),
        client_error("AuthorizationError", 403),
        client_error("KMSAccessDenied", 400),
    ],
)
def test_permanent(exc):
    error = classify(exc)
    assert error.permanent is True and str(error).startswith(exc.response["Error"]["Code"])


def test_our_own_errors_pass_through():
    own = DeliveryError("message is 300000 bytes, over SNS's 262144", permanent=True)
    assert classify(own) is own
