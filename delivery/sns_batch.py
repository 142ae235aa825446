"""PublishBatch without botocore's per-call machinery (issue 15).

A boto3 call runs its event hooks, parameter serializer, user-agent builder and
response parser on every request: 1.46 ms of CPU for a ten-entry PublishBatch on the
bench machine, against 0.80 ms for the same request built and read here: it was the
largest single step of the fire path. This module owns only the form and the reading of the
answer. The rest is the boto3 SNS client's own: its endpoint, its credentials (refreshed
as boto3 refreshes them), botocore's SigV4 signer and the client's HTTP session (proxies,
CA bundle, timeouts, connection pool).

Failures come out as botocore's would: a ``ClientError`` with the error code and HTTP
status, botocore's connection and timeout errors, ``ResponseParserError`` for an answer
that cannot be read, so ``delivery.errors.classify`` sorts them as before. botocore
makes no retries of SNS calls here anyway (``delivery.aws``): the fire task owns them.
"""

import http.client
from typing import Any
from xml.etree import ElementTree

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from delivery.aws import form_quote, sns_client, sns_credentials
from delivery.messages import OutgoingMessage

API_VERSION = b"2010-03-31"  # SNS's query API; botocore's service model says the same
_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    "User-Agent": f"notifier-fire-path botocore/{botocore.__version__}",  # as CloudTrail shows the caller
}


def _entry(number: int, message: OutgoingMessage) -> list[bytes]:
    """One entry's form fields, named as botocore's query serializer names them."""
    prefix = b"PublishBatchRequestEntries.member.%d." % number
    fields = [
        prefix + b"Id=" + str(message.notification_id).encode(),
        prefix + b"Message=" + form_quote(message.message),
        prefix + b"MessageStructure=json",
    ]
    if message.subject is not None:
        fields.append(prefix + b"Subject=" + form_quote(message.subject))
    for index, (name, value) in enumerate(message.attributes.items(), 1):
        attribute = prefix + b"MessageAttributes.entry.%d." % index
        fields.append(attribute + b"Name=" + form_quote(name))
        fields.append(attribute + b"Value.DataType=" + form_quote(value["DataType"]))
        fields.append(attribute + b"Value.StringValue=" + form_quote(value["StringValue"]))
    if message.group_id:
        fields.append(prefix + b"MessageGroupId=" + form_quote(message.group_id))
        fields.append(prefix + b"MessageDeduplicationId=" + form_quote(message.dedup_id or ""))
    return fields


def publish_batch_form(topic_arn: str, messages: list[OutgoingMessage]) -> bytes:
    fields = [b"Action=PublishBatch", b"Version=" + API_VERSION, b"TopicArn=" + form_quote(topic_arn)]
    for number, message in enumerate(messages, 1):
        fields += _entry(number, message)
    return b"&".join(fields)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # without the namespace SNS puts on every element


def _members(result: ElementTree.Element, list_name: str) -> list[dict[str, str]]:
    return [
        {_local(field.tag): field.text or "" for field in member}
        for listing in result
        if _local(listing.tag) == list_name
        for member in listing
    ]


def _error(status: int, body: bytes) -> ClientError:
    """SNS's ``<ErrorResponse>``; a body that is not one (a proxy's page) gives the status as
    the code, as botocore does."""
    error = {"Code": str(status), "Message": http.client.responses.get(status, "")}
    try:
        for element in ElementTree.fromstring(body).iter():
            if _local(element.tag) == "Error":
                error = {_local(field.tag): field.text or "" for field in element}
                break
    except ElementTree.ParseError:
        pass
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "PublishBatch")


def parse_publish_batch(status: int, body: bytes) -> dict[str, Any]:
    """The answer as boto3 gives it: ``Successful`` and ``Failed`` lists of members, each a
    dict of its fields (``SenderFault`` a bool)."""
    if status >= 300:
        raise _error(status, body)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ResponseParserError(f"PublishBatch answer is not XML: {exc}") from exc
    result = next((element for element in root if _local(element.tag) == "PublishBatchResult"), None)
    if result is None:
        raise ResponseParserError("PublishBatch answer has no PublishBatchResult")
    failed = _members(result, "Failed")
    for member in failed:
        member["SenderFault"] = member.get("SenderFault", "").lower() == "true"
    return {"Successful": _members(result, "Successful"), "Failed": failed}


def publish_batch_call(topic_arn: str, messages: list[OutgoingMessage]) -> dict[str, Any]:
    """One signed PublishBatch request; returns its answer as ``parse_publish_batch`` reads it."""
    client = sns_client()
    url = client.meta.endpoint_url.rstrip("/") + "/"  # the query API's one path, as botocore joins it
    request = AWSRequest(method="POST", url=url, data=publish_batch_form(topic_arn, messages), headers=_HEADERS)
    credentials = sns_credentials().get_frozen_credentials()  # refreshed when near expiry
    SigV4Auth(credentials, client.meta.service_model.signing_name, client.meta.region_name).add_auth(request)
    # The client's own session: the proxies, CA bundle, timeouts and pool it was made with.
    response = client._endpoint.http_session.send(request.prepare())
    return parse_publish_batch(response.status_code, response.content)
