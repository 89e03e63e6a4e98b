"""Who may touch what: forged and stale tokens on every kind of endpoint, other players' answers, the staff API."""

import base64
import json
import time
import uuid

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from billing.models import CallRecord
from coach.models import Conversation, Feedback, QuestionLog
from tests.conftest import bearer_client
from tests.reliability.conftest import ASK, bearer, is_error_shape, player

pytestmark = pytest.mark.django_db

# (method, path, body): the async ask (its token checked on the loop, the player read at admission) and
# sync views of each app.
ENDPOINTS = [
    ("post", ASK, {"game": "elden-ring", "question": "Malenia tips?"}),
    ("get", "/api/coach/history", None),
    ("post", f"/api/coach/answers/{uuid.uuid4()}/feedback", {"rating": "up"}),
    ("get", "/auth/me", None),
    ("patch", "/auth/me", {"display_name": "owned"}),
    ("get", "/billing/me", None),
    ("post", "/billing/refresh", None),
    ("get", "/api/games", None),
]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user) -> dict:
    return dict(AccessToken.for_user(user).payload)


def _forged(kind: str, user, other) -> str:
    secret = django_settings.SIMPLE_JWT["SIGNING_KEY"]
    claims = _claims(user)
    if kind == "alg none":
        return jwt.encode(claims, None, algorithm="none")
    if kind == "wrong key":
        return jwt.encode(claims, "not-our-secret-0123456789abcdef0123456789", algorithm="HS256")
    if kind == "HS512 with our key":
        return jwt.encode(claims, secret, algorithm="HS512")
    if kind == "expired":
        return jwt.encode({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 60}, secret,
                          algorithm="HS256")  # fmt: skip
    if kind == "claims tampered":  # someone else's id in a genuine token, signature kept
        header, _, signature = str(AccessToken.for_user(user)).split(".")
        return f"{header}.{_b64({**claims, 'user_id': str(other.pk)})}.{signature}"
    if kind == "refresh token as access":
        return str(RefreshToken.for_user(user))
    if kind == "no such user":
        return jwt.encode({**claims, "user_id": "999999"}, secret, algorithm="HS256")
    if kind == "garbage":
        return "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"
    raise AssertionError(kind)


FORGERIES = ["alg none", "wrong key", "HS512 with our key", "expired", "claims tampered", "refresh token as access",
             "no such user", "garbage"]  # fmt: skip


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_or_misused_tokens_are_401_everywhere_and_change_nothing(kind):
    user, other = player(display_name="Victim"), player(display_name="Other")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_forged(kind, user, other)}")

    for method, path, body in ENDPOINTS:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 401, (kind, path, response.status_code, response.content)
        assert is_error_shape(response.json()), (kind, path)
        assert response.get("WWW-Authenticate", "").startswith("Bearer"), (kind, path)

    assert not CallRecord.objects.exists() and not QuestionLog.objects.exists()
    user.refresh_from_db()
    other.refresh_from_db()
    assert (user.display_name, other.display_name) == ("Victim", "Other")


def test_a_deleted_players_tokens_stop_working_on_every_endpoint_at_once(demo):
    user = player("basic")
    access, refresh = str(AccessToken.for_user(user)), str(RefreshToken.for_user(user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.post(ASK, ENDPOINTS[0][2], format="json").status_code == 200

    assert client.delete("/auth/me").status_code == 204

    for method, path, body in ENDPOINTS:
        assert getattr(client, method)(path, body, format="json").status_code == 401, path
    refreshed = APIClient().post("/auth/token/refresh", {"refresh": refresh}, format="json")
    assert refreshed.status_code == 401
    assert CallRecord.objects.count() == 1  # the one answered before, kept anonymised for accounting


# --- other players' answers ----------------------------------------------------------------------
def _as(user) -> APIClient:
    client = bearer_client(user)
    return client


def test_a_player_cannot_read_list_or_rate_another_players_answers(demo):
    owner, intruder = player(), player()
    answer = _as(owner).post(ASK, {"game": "elden-ring", "question": "말레니아 2페이즈 어떻게 피해요?"},
                             format="json").json()  # fmt: skip
    mine = _as(intruder).post(ASK, {"game": "elden-ring", "question": "Radahn tips?"}, format="json").json()
    intruder_client = _as(intruder)

    read = intruder_client.get(f"/api/coach/history/{answer['id']}")
    rated = intruder_client.post(f"/api/coach/answers/{answer['id']}/feedback", {"rating": "down"}, format="json")
    listed = intruder_client.get("/api/coach/history")
    by_conversation = intruder_client.get("/api/coach/history", {"conversation_id": answer["conversation_id"]})

    assert read.status_code == 404 and is_error_shape(read.json(), "not_found")
    assert rated.status_code == 404 and is_error_shape(rated.json(), "not_found")
    assert not Feedback.objects.exists()
    assert [item["id"] for item in listed.json()["results"]] == [mine["id"]]
    assert by_conversation.status_code == 200 and by_conversation.json()["results"] == []
    # an answer that does not exist looks the same as someone else's: ids cannot be probed
    unknown = intruder_client.get(f"/api/coach/history/{uuid.uuid4()}")
    assert (unknown.status_code, unknown.json()) == (read.status_code, read.json())


def test_answer_and_conversation_ids_are_random_uuids_not_counters(demo):
    user = player()
    client = _as(user)
    answers = [client.post(ASK, {"game": "elden-ring", "question": f"Malenia tip {n}?"}, format="json").json()
               for n in range(3)]  # fmt: skip

    for answer in answers:
        assert uuid.UUID(answer["id"]).version == 4
        assert uuid.UUID(answer["conversation_id"]).version == 4
    assert len({a["id"] for a in answers}) == 3
    assert QuestionLog._meta.pk.get_internal_type() == "UUIDField"
    assert Conversation._meta.pk.get_internal_type() == "UUIDField"
    # a non-UUID id is not a route at all, so integer ids cannot even be tried
    assert client.get("/api/coach/history/1").status_code == 404


# --- staff only ----------------------------------------------------------------------------------
STAFF_API = [
    ("get", "/api/admin/stats", None),
    ("post", "/api/knowledge/search", {"game": "elden-ring", "question": "Malenia"}),
]


@pytest.mark.parametrize(("method", "path", "body"), STAFF_API)
def test_the_staff_api_refuses_players_and_anonymous_callers(demo, method, path, body, staff_user):
    as_player = getattr(_as(player()), method)(path, body, format="json")
    anonymous = getattr(APIClient(), method)(path, body, format="json")
    as_staff = getattr(_as(staff_user), method)(path, body, format="json")

    assert as_player.status_code == 403 and is_error_shape(as_player.json(), "permission_denied")
    assert anonymous.status_code == 401 and is_error_shape(anonymous.json())
    assert as_staff.status_code == 200


ADMIN_PAGES = ["/admin/", "/admin/coach/questionlog/", "/admin/accounts/user/", "/admin/coach/questionlog/dashboard/"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_the_admin_is_closed_to_players_whatever_they_send(client, path):
    user = player(is_staff=False)
    user.set_password("player-password-1")
    user.save()

    with_token = client.get(path, HTTP_AUTHORIZATION=bearer(user)["Authorization"])
    client.force_login(user)  # a player who somehow holds a session cookie
    with_session = client.get(path)

    for response in (with_token, with_session):
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/admin/login/")
