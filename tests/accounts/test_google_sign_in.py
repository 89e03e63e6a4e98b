"""POST /auth/google: real ID tokens signed with keys a real local Google certs server publishes."""

import threading
import time

import jwt
import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from tests.accounts.conftest import ANDROID_CLIENT_ID, CLIENT_IDS, IOS_CLIENT_ID, WEB_CLIENT_ID, sign_in
from tests.factories import UserFactory
from tests.servers.google_certs import SigningKey, google_claims, hs256_token_keyed_with, unsigned_token

pytestmark = pytest.mark.django_db


def _nothing_was_created():
    return (
        User.objects.count(),
        SocialAccount.objects.count(),
        EmailAddress.objects.count(),
        OutstandingToken.objects.count(),
    ) == (0, 0, 0, 0)


def test_first_sign_in_creates_the_account_on_the_free_plan(api_client, google_token):
    # given a Google account that has never signed in
    token = google_token(sub="1001", email="Player@Gmail.com", name="플레이어 Kim")

    # when the app sends its ID token
    response = sign_in(api_client, token)

    # then an account exists, linked to that Google identity, and our own tokens come back
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"access", "refresh", "user", "is_new_user"}
    assert body["is_new_user"] is True
    user = User.objects.get()
    assert body["user"]["public_id"] == str(user.public_id)
    assert body["user"]["email"] == "player@gmail.com"
    assert body["user"]["display_name"] == "플레이어 Kim"
    assert body["user"]["language"] == "ko"
    assert SocialAccount.objects.get(user=user).uid == "1001"
    assert SocialAccount.objects.get(user=user).provider == "google"
    assert EmailAddress.objects.get(user=user).verified is True
    assert "gmail" not in user.username  # no personal data in the username
    assert not user.has_usable_password()

    # and the access token opens /auth/me, which shows the free plan with every call left
    me = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200
    assert me.json()["plan"] == "free"
    assert me.json()["usage"]["used"] == 0
    assert me.json()["usage"]["remaining"] == me.json()["usage"]["limit"] > 0
    assert me.json()["subscription"] is None


def test_same_google_sub_always_signs_into_the_same_user(api_client, google_token):
    # given a player who signed in on iOS
    first = sign_in(api_client, google_token(sub="1002", email="a@gmail.com", aud=IOS_CLIENT_ID)).json()

    # when the same Google account signs in from Android, with a changed email address
    second = sign_in(api_client, google_token(sub="1002", email="renamed@gmail.com", aud=ANDROID_CLIENT_ID))

    # then it is the same account, not a new one
    assert second.status_code == 200
    assert second.json()["is_new_user"] is False
    assert second.json()["user"]["public_id"] == first["user"]["public_id"]
    assert User.objects.count() == 1
    assert SocialAccount.objects.get().extra_data["email"] == "renamed@gmail.com"


@pytest.mark.parametrize("client_id", CLIENT_IDS)
def test_tokens_for_each_configured_client_id_are_accepted(api_client, google_token, client_id):
    assert sign_in(api_client, google_token(aud=client_id)).status_code == 200


def test_issuer_without_scheme_is_accepted_as_google_documents(api_client, google_token):
    assert sign_in(api_client, google_token(iss="accounts.google.com")).status_code == 200


def test_google_locale_en_sets_english(api_client, google_token):
    response = sign_in(api_client, google_token(locale="en-GB"))
    assert response.json()["user"]["language"] == "en"


def _expired():
    now = int(time.time())
    return {"iat": now - 7200, "exp": now - 3600}


REJECTIONS = [
    pytest.param(_expired, "google_token_expired", id="expired"),
    pytest.param(
        lambda: {"aud": "someone-elses-app.apps.googleusercontent.com"},
        "google_token_wrong_audience",
        id="wrong-audience",
    ),
    pytest.param(lambda: {"iss": "https://evil.example.com"}, "google_token_wrong_issuer", id="wrong-issuer"),
    pytest.param(lambda: {"email_verified": False}, "google_email_unverified", id="email-unverified"),
    pytest.param(lambda: {"email_verified": None}, "google_email_unverified", id="email-verified-missing"),
    pytest.param(lambda: {"email": None}, "google_email_unverified", id="no-email"),
    pytest.param(lambda: {"sub": None}, "google_token_malformed", id="no-sub"),
    pytest.param(lambda: {"exp": None}, "google_token_malformed", id="no-exp"),
    pytest.param(lambda: {"iat": int(time.time()) + 3600}, "google_token_not_yet_valid", id="issued-in-future"),
]


@pytest.mark.parametrize(("claims", "code"), REJECTIONS)
def test_google_token_failing_a_claim_check_is_rejected_with_401_and_its_code(api_client, google_token, claims, code):
    # given a correctly signed token that fails one check
    token = google_token(**claims())

    # when it is sent
    response = sign_in(api_client, token)

    # then 401 in the error shape, with the code naming the check, and nothing is created
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert _nothing_was_created()


def test_token_signed_by_another_key_with_googles_kid_is_rejected_as_bad_signature(api_client, google, google_key):
    forger = SigningKey.generate(kid=google_key.kid)
    response = sign_in(api_client, forger.id_token(aud=IOS_CLIENT_ID))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_bad_signature"
    assert _nothing_was_created()


def test_token_with_edited_claims_is_rejected_as_bad_signature(api_client, google_token):
    header, _payload, signature = google_token(sub="1003").split(".")
    other_payload = google_token(sub="9999").split(".")[1]
    response = sign_in(api_client, f"{header}.{other_payload}.{signature}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_bad_signature"
    assert _nothing_was_created()


def test_badly_signed_expired_token_reports_the_signature_not_the_expiry(api_client, google, google_key):
    forger = SigningKey.generate(kid=google_key.kid)
    response = sign_in(api_client, forger.id_token(aud=IOS_CLIENT_ID, **_expired()))
    assert response.json()["error"]["code"] == "google_token_bad_signature"


def test_unsigned_alg_none_token_is_rejected_without_fetching_keys(api_client, google, google_key):
    token = unsigned_token(google_claims(aud=IOS_CLIENT_ID), kid=google_key.kid)
    response = sign_in(api_client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_unsupported_algorithm"
    assert google.fetches == 0
    assert _nothing_was_created()


def test_hs256_token_keyed_with_googles_public_key_is_rejected(api_client, google, google_key):
    # the algorithm-confusion attack: the public key is public, so anyone can make this HMAC
    token = hs256_token_keyed_with(google_key.public_pem(), google_claims(aud=IOS_CLIENT_ID), kid=google_key.kid)
    response = sign_in(api_client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_unsupported_algorithm"
    assert _nothing_was_created()


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "....", "eyJ@@@.e30.sig", "한글.토큰.값"],
)
def test_malformed_token_is_rejected_with_401_malformed(api_client, google, token):
    response = sign_in(api_client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_malformed"
    assert _nothing_was_created()


def test_token_without_kid_is_rejected_as_malformed(api_client, google, google_key):
    token = jwt.encode(google_claims(aud=IOS_CLIENT_ID), google_key.private_key, algorithm="RS256")
    response = sign_in(api_client, token)
    assert response.json()["error"]["code"] == "google_token_malformed"


def test_token_signed_with_a_key_google_does_not_publish_is_rejected(api_client, google):
    stranger = SigningKey.generate(kid="not-googles")
    response = sign_in(api_client, stranger.id_token(aud=IOS_CLIENT_ID))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_unknown_key"
    assert _nothing_was_created()


@pytest.mark.parametrize("body", [{}, {"id_token": ""}, {"id_token": "x" * 9000}, {"id_token": ["a"]}])
def test_missing_or_oversized_id_token_is_a_400_validation_error(api_client, google, body):
    response = api_client.post("/auth/google", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "id_token" in response.json()["error"]["details"]["fields"]


def test_stale_bearer_header_does_not_block_signing_in(api_client, google_token):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
    assert sign_in(api_client, google_token()).status_code == 200


def test_google_keys_unreachable_answers_503_not_500(api_client, google, google_token):
    # given Google's certs endpoint is down (connection refused) and no keys are cached
    token = google_token()
    google.go_down()

    # when a player signs in
    response = sign_in(api_client, token)

    # then 503 with a code the app can retry on, and nothing is created
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "google_keys_unavailable"
    assert response["Retry-After"]
    assert _nothing_was_created()


@pytest.mark.parametrize("status", [500, 503, 404])
def test_google_keys_endpoint_failing_answers_503(api_client, google, google_token, status):
    google.status = status
    response = sign_in(api_client, google_token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "google_keys_unavailable"
    assert _nothing_was_created()


def test_google_keys_endpoint_too_slow_answers_503(api_client, google, google_token, settings):
    settings.GOOGLE_CERTS_TIMEOUT = 0.2
    google.delay = 1.0
    response = sign_in(api_client, google_token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "google_keys_unavailable"


def test_no_configured_client_ids_answers_503_not_configured(api_client, google, google_token, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": []}}
    response = sign_in(api_client, google_token())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "google_sign_in_not_configured"
    assert _nothing_was_created()


def test_deactivated_account_cannot_sign_in_and_gets_no_tokens(api_client, google_token):
    # given an account that staff deactivated
    sign_in(api_client, google_token(sub="1004"))
    User.objects.update(is_active=False)
    tokens_before = OutstandingToken.objects.count()

    # when its Google identity signs in again
    response = sign_in(api_client, google_token(sub="1004"))

    # then it is refused, and no session is opened
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    assert OutstandingToken.objects.count() == tokens_before


def test_a_google_sign_in_never_touches_an_unrelated_password_account(api_client, google_token):
    other = UserFactory(email="someone@gmail.com")
    sign_in(api_client, google_token(sub="1005", email="player@gmail.com"))
    other.refresh_from_db()
    assert not SocialAccount.objects.filter(user=other).exists()


def test_web_client_id_is_accepted_as_android_tokens_carry_the_server_client_id(api_client, google_token):
    # Android's Google Sign-In issues tokens whose aud is the web (server) client id and azp the Android one
    response = sign_in(api_client, google_token(aud=WEB_CLIENT_ID, azp=ANDROID_CLIENT_ID))
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_sign_ins_of_one_google_account_make_one_user(google_token):
    # given a new player whose app sends its first sign-in several times at once (retries on a bad network)
    token = google_token(sub="1099", email="racer@gmail.com")
    barrier = threading.Barrier(4)
    answers = []

    def attempt():
        try:
            barrier.wait()
            response = sign_in(APIClient(), token)
            answers.append((response.status_code, response.json()["user"]["public_id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every request succeeds, all with the same single account
    assert [status for status, _ in answers] == [200] * 4
    assert len({public_id for _, public_id in answers}) == 1
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1
    assert EmailAddress.objects.count() == 1
