"""delivery.aws makes one boto3 client per service and process (issue 15): a fresh pool
process's publisher threads all ask for the SNS client at once, and a boto3 session must
not make two clients at the same time."""

import threading
import time

import boto3
import pytest

from delivery import aws


@pytest.fixture
def slow_client_making(monkeypatch):
    """Client making that takes long enough for every thread to ask meanwhile, and
    counts how often it runs and how often it overlaps itself."""
    made = {"times": 0, "at_once": 0, "most_at_once": 0}
    real_client = boto3.session.Session.client
    counting = threading.Lock()

    def client(self, *args, **kwargs):
        with counting:
            made["times"] += 1
            made["at_once"] += 1
            made["most_at_once"] = max(made["most_at_once"], made["at_once"])
        time.sleep(0.05)
        try:
            return real_client(self, *args, **kwargs)
        finally:
            with counting:
                made["at_once"] -= 1

    monkeypatch.setattr(boto3.session.Session, "client", client)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")
    aws.reset_clients()
    yield made
    aws.reset_clients()


def test_threads_asking_at_once_share_one_client_made_once(slow_client_making):
    clients = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        clients.append(aws.sns_client())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 8 and len({id(client) for client in clients}) == 1
    assert slow_client_making["times"] == 1
    assert aws.sns_credentials().get_frozen_credentials().access_key == "unit"


def test_each_service_gets_its_own_client_from_one_session_one_at_a_time(slow_client_making):
    threads = [threading.Thread(target=make) for make in (aws.sns_client, aws.sqs_client) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slow_client_making["times"] == 2  # one SNS, one SQS
    assert slow_client_making["most_at_once"] == 1
    assert aws.sns_client() is not aws.sqs_client()
