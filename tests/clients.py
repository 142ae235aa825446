from rest_framework.test import APIClient

from accounts.services import token_issue


def client_for(user) -> APIClient:
    """An API client that authenticates as ``user`` with a token of its own."""
    client = APIClient()
    _, key = token_issue(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
