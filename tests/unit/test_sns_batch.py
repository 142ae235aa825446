"""delivery.sns_batch builds PublishBatch's form and reads its answer itself (issue 15):
the form must be what botocore's own serializer would send, and every answer must come
out as botocore's client would have given it, errors sorted the same by ``classify``.
Signing against an emulator that checks signatures: tests/integration/test_sns_batch.py."""

from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from botocore.serialize import create_serializer

from delivery.errors import classify
from delivery.messages import OutgoingMessage
from delivery.sns_batch import parse_publish_batch, publish_batch_form

ARN = "arn:aws:sns:eu-west-1:123456789012:notifier-launches"


def message(notification_id: int, **fields: object) -> OutgoingMessage:
    defaults: dict = {
        "topic_arn": ARN,
        "message": '{"default":"{\\"title\\":\\"Launch & café 100%+1\\"}","sms":"T-10 min: é €\\n😀"}',
        "attributes": {
            "topic": {"DataType": "String", "StringValue": "launches"},
            "event_id": {"DataType": "Number", "StringValue": "42"},
            "notification_key": {"DataType": "String", "StringValue": "k" * 64},
        },
        "subject": "Launch in 10 minutes: a+b = c",
        "size": 100,
    }
    return OutgoingMessage(notification_id=notification_id, **{**defaults, **fields})


def botocore_form(messages: list[OutgoingMessage]) -> bytes:
    model = botocore.session.get_session().get_service_model("sns").operation_model("PublishBatch")
    params = {"TopicArn": ARN, "PublishBatchRequestEntries": [m.batch_entry() for m in messages]}
    return urlencode(create_serializer("query").serialize_to_request(params, model)["body"]).encode()


@pytest.mark.parametrize(
    "messages",
    [
        [message(1)],
        [message(n) for n in range(1, 11)],  # a full batch
        [message(7, subject=None, attributes={})],  # no email channel, no attributes
        [message(8, group_id="launches", dedup_id="k" * 64), message(9, group_id="launches", dedup_id="x")],  # FIFO
        [message(10, message="".join(map(chr, range(1, 800))), subject=" \t%+&= ")],  # every byte form-quoting touches
    ],
    ids=["one", "ten", "bare", "fifo", "odd-bytes"],
)
def test_the_form_is_the_one_botocore_would_send(messages):
    ours = publish_batch_form(ARN, messages)
    assert sorted(ours.split(b"&")) == sorted(botocore_form(messages).split(b"&"))


NS = 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"'
ANSWER = f"""<PublishBatchResponse {NS}>
  <PublishBatchResult>
    <Successful>
      <member><MessageId>m-1</MessageId><Id>1</Id></member>
      <member><Id>2</Id><MessageId>m-2</MessageId><SequenceNumber>10000000000000001000</SequenceNumber></member>
    </Successful>
    <Failed>
      <member><Id>3</Id><Code>InvalidParameter</Code><Message>Invalid parameter: Message</Message>
        <SenderFault>true</SenderFault></member>
      <member><Id>4</Id><Code>InternalError</Code><SenderFault>false</SenderFault></member>
    </Failed>
  </PublishBatchResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</PublishBatchResponse>"""


def test_an_answer_reads_as_boto3_gives_it():
    assert parse_publish_batch(200, ANSWER.encode()) == {
        "Successful": [
            {"MessageId": "m-1", "Id": "1"},
            {"Id": "2", "MessageId": "m-2", "SequenceNumber": "10000000000000001000"},
        ],
        "Failed": [
            {"Id": "3", "Code": "InvalidParameter", "Message": "Invalid parameter: Message", "SenderFault": True},
            {"Id": "4", "Code": "InternalError", "SenderFault": False},
        ],
    }


def test_empty_lists_read_as_empty():
    answer = f"<PublishBatchResponse {NS}><PublishBatchResult><Successful/><Failed/></PublishBatchResult>"
    assert parse_publish_batch(200, (answer + "</PublishBatchResponse>").encode()) == {"Successful": [], "Failed": []}


def error_answer(code: str, kind: str = "Sender") -> bytes:
    return (
        f"<ErrorResponse {NS}><Error><Type>{kind}</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error>"
        "<RequestId>r-2</RequestId></ErrorResponse>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "code", "permanent"),
    [
        (400, error_answer("Throttling"), "Throttling", False),
        (403, error_answer("AuthorizationError"), "AuthorizationError", True),
        (404, error_answer("NotFound"), "NotFound", True),
        (500, error_answer("InternalError", "Receiver"), "InternalError", False),
        (502, b"<html><body>Bad gateway</body></html>", "502", False),  # a proxy's page: the status is the code
        (503, b"", "503", False),
    ],
)
def test_an_error_answer_is_botocores_client_error(status, body, code, permanent):
    with pytest.raises(ClientError) as raised:
        parse_publish_batch(status, body)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert classify(raised.value).permanent is permanent


@pytest.mark.parametrize("body", [b"not xml", f"<PublishResponse {NS}><PublishResult/></PublishResponse>".encode()])
def test_an_unreadable_answer_is_a_transient_failure(body):
    with pytest.raises(ResponseParserError) as raised:
        parse_publish_batch(200, body)
    assert classify(raised.value).permanent is False  # as botocore's own parser failing was
