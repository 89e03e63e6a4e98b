"""Our own JWT sessions: Bearer access tokens, single-use rotating refresh tokens, logout."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tests.accounts.conftest import sign_in
from tests.conftest import bearer_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _refresh(client, refresh: str):
    return client.post("/auth/token/refresh", {"refresh": refresh}, format="json")


def _me(client, access: str):
    return client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_refresh_rotates_and_the_used_refresh_token_is_refused_afterwards(api_client, google_token):
    # given a signed-in player
    tokens = sign_in(api_client, google_token()).json()

    # when the app refreshes
    rotated = _refresh(api_client, tokens["refresh"])

    # then a new pair comes back, and both new tokens work
    assert rotated.status_code == 200
    new = rotated.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != tokens["refresh"]
    assert _me(api_client, new["access"]).status_code == 200

    # and the used refresh token is refused from now on
    reused = _refresh(api_client, tokens["refresh"])
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    # while the rotated one keeps the session going
    assert _refresh(api_client, new["refresh"]).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_succeed_exactly_once():
    # given one refresh token, sent by several requests at the same moment (a flaky network's retries)
    refresh = str(RefreshToken.for_user(UserFactory()))
    statuses = []
    barrier = threading.Barrier(4)

    def attempt():
        try:
            barrier.wait()
            statuses.append(_refresh(APIClient(), refresh).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one got a new pair
    assert sorted(statuses) == [200, 401, 401, 401]


def test_logout_revokes_the_refresh_token_and_is_idempotent(api_client, google_token):
    tokens = sign_in(api_client, google_token()).json()

    logout = api_client.post("/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert logout.status_code == 204

    assert _refresh(api_client, tokens["refresh"]).status_code == 401
    again = api_client.post("/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 204


def test_logout_works_without_a_valid_access_token(api_client, google_token):
    tokens = sign_in(api_client, google_token()).json()
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired-access-token")
    assert api_client.post("/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code == 204


@pytest.mark.parametrize("path", ["/auth/token/refresh", "/auth/logout"])
def test_access_token_is_not_accepted_as_a_refresh_token(api_client, user, path):
    access = str(RefreshToken.for_user(user).access_token)
    response = api_client.post(path, {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


@pytest.mark.parametrize("path", ["/auth/token/refresh", "/auth/logout"])
def test_refresh_token_signed_with_another_secret_is_refused(api_client, user, settings, path):
    forged = RefreshToken.for_user(user)
    forged_str = forged.token_backend.__class__("HS256", "someone-elses-secret-0123456789abcdef").encode(forged.payload)
    response = api_client.post(path, {"refresh": forged_str}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_expired_refresh_token_is_refused(api_client, user):
    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = _refresh(api_client, str(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": None}])
def test_missing_refresh_token_is_a_400_validation_error(api_client, db, body):
    response = api_client.post("/auth/token/refresh", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "x" * 4000])
def test_garbage_refresh_token_is_401_token_not_valid(api_client, db, garbage):
    response = _refresh(api_client, garbage)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_deactivated_users_access_and_refresh_tokens_stop_working_at_once(api_client, google_token):
    # given a signed-in player
    tokens = sign_in(api_client, google_token()).json()
    assert _me(api_client, tokens["access"]).status_code == 200

    # when staff deactivate the account
    User.objects.update(is_active=False)

    # then neither token works any more
    assert _me(api_client, tokens["access"]).status_code == 401
    refreshed = _refresh(api_client, tokens["refresh"])
    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "account_disabled"


def test_auth_me_requires_a_bearer_token(api_client, db):
    response = api_client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Token abc", "Bearer "])
def test_bad_authorization_headers_are_401_in_the_error_shape(api_client, db, header):
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "code" in response.json()["error"]


class _DefaultApi(APIView):
    """An /api view that declares nothing: it gets the project's default authentication and permission."""

    def get(self, request):
        return Response({"public_id": str(request.user.public_id)})


urlpatterns = [path("api/t/default", _DefaultApi.as_view())]


@pytest.mark.urls(__name__)
def test_api_endpoints_authenticate_with_bearer_by_default(user):
    anonymous = APIClient().get("/api/t/default")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"

    signed_in = bearer_client(user).get("/api/t/default")
    assert signed_in.status_code == 200
    assert signed_in.json()["public_id"] == str(user.public_id)


@pytest.mark.urls(__name__)
def test_api_endpoints_refuse_a_deactivated_users_bearer_token(user):
    client = bearer_client(user)
    user.is_active = False
    user.save()
    assert client.get("/api/t/default").status_code == 401


def _signed(token, **claims) -> str:
    """One of our tokens with claims changed and signed again with our key (as a leaked key, or a bug, would)."""
    for name, value in claims.items():
        token[name] = value
    return token.token_backend.encode(token.payload)


# Not an id of ours: another type, a bool (True == 1 in Python), a float, spaces, a non-ASCII digit, too big.
BAD_USER_IDS = ["abc", True, 1.0, " 1", "\u0661", "", None, [1], {"id": 1}, -1, 2**63, str(2**63)]


@pytest.mark.parametrize("user_id", BAD_USER_IDS, ids=repr)
@pytest.mark.parametrize("method, path", [("get", "/auth/me"), ("post", "/api/coach/ask")])
def test_an_access_token_whose_user_id_is_not_an_id_is_401_token_not_valid(api_client, db, user_id, method, path):
    # given user 1 exists, and an access token of ours whose user_id is not an integer id
    User.objects.filter(pk=1).exists() or UserFactory(id=1)
    access = _signed(RefreshToken.for_user(UserFactory()).access_token, user_id=user_id)
    # when it is used, on the default authentication and on the ask's (no query)
    response = getattr(api_client, method)(path, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {access}")
    # then it is refused in the one error shape, and never resolves to user 1
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "token_not_valid"


@pytest.mark.parametrize("user_id", BAD_USER_IDS, ids=repr)
def test_a_refresh_token_whose_user_id_is_not_an_id_is_401_token_not_valid(api_client, db, user_id):
    User.objects.filter(pk=1).exists() or UserFactory(id=1)
    refresh = _signed(RefreshToken.for_user(UserFactory()), user_id=user_id)
    response = _refresh(api_client, refresh)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "token_not_valid"


@pytest.mark.parametrize("user_id", ["{pk}", "{pk:d}"])
def test_an_access_token_carrying_the_id_as_a_number_or_a_string_works(api_client, user, user_id):
    access = _signed(RefreshToken.for_user(user).access_token, user_id=user.pk if user_id == "{pk:d}" else str(user.pk))
    assert _me(api_client, access).status_code == 200
