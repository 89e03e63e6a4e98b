"""Google's signing keys: fetched once, cached, refetched for a new kid, and never hammered."""

import time

import pytest

from tests.accounts.conftest import IOS_CLIENT_ID, sign_in
from tests.servers.google_certs import SigningKey

pytestmark = pytest.mark.django_db


def test_many_sign_ins_fetch_googles_keys_once(api_client, google, google_token):
    # given no keys are cached yet
    # when ten different players sign in
    for n in range(10):
        assert sign_in(api_client, google_token(sub=f"20{n}", email=f"p{n}@gmail.com")).status_code == 200

    # then Google's certs were fetched once
    assert google.fetches == 1


def test_rotated_key_is_picked_up_by_one_refetch(api_client, google, google_key, google_token):
    # given keys cached from an earlier sign-in
    assert sign_in(api_client, google_token(sub="2101")).status_code == 200
    # and Google then publishes a new key next to the old one and signs with it
    new_key = SigningKey.generate(kid="google-key-2")
    google.serve(google_key, new_key)

    # when tokens signed with the new key arrive
    first = sign_in(api_client, new_key.id_token(aud=IOS_CLIENT_ID, sub="2102"))
    second = sign_in(api_client, new_key.id_token(aud=IOS_CLIENT_ID, sub="2103"))
    old = sign_in(api_client, google_token(sub="2104"))

    # then the first one refetched the keys once, and every later token is served from the cache
    assert (first.status_code, second.status_code, old.status_code) == (200, 200, 200)
    assert google.fetches == 2


def test_made_up_kids_refetch_at_most_once_per_interval(api_client, google, google_token):
    # given keys cached from an earlier sign-in
    assert sign_in(api_client, google_token()).status_code == 200

    # when a stream of tokens with made-up key ids arrives
    codes = set()
    for n in range(5):
        stranger = SigningKey.generate(kid=f"made-up-{n}")
        codes.add(sign_in(api_client, stranger.id_token(aud=IOS_CLIENT_ID)).json()["error"]["code"])

    # then all are refused, and Google was asked again only once
    assert codes == {"google_token_unknown_key"}
    assert google.fetches == 2


def test_keys_are_refetched_once_googles_max_age_has_passed(api_client, google, google_key, google_token):
    # given Google says its keys may be cached for one second
    google.reset(google_key, max_age=1)
    assert sign_in(api_client, google_token(sub="2201")).status_code == 200

    # when a sign-in comes after that
    time.sleep(1.2)
    assert sign_in(api_client, google_token(sub="2202")).status_code == 200

    # then the keys were fetched again
    assert google.fetches == 2


def test_cached_keys_keep_sign_in_working_while_google_is_down(api_client, google, google_token):
    assert sign_in(api_client, google_token(sub="2301")).status_code == 200
    google.go_down()
    assert sign_in(api_client, google_token(sub="2302")).status_code == 200


def test_sign_in_recovers_when_google_comes_back(api_client, google, google_token):
    # given Google's certs endpoint fails
    google.status = 500
    assert sign_in(api_client, google_token()).status_code == 503
    # when it answers again
    google.status = 200
    # then the next sign-in works (a failure is not cached)
    assert sign_in(api_client, google_token()).status_code == 200


def test_refetch_failing_for_an_unknown_kid_answers_503(api_client, google, google_token):
    assert sign_in(api_client, google_token()).status_code == 200
    google.go_down()
    stranger = SigningKey.generate(kid="new-but-google-is-down")
    response = sign_in(api_client, stranger.id_token(aud=IOS_CLIENT_ID))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "google_keys_unavailable"


def test_sign_in_keeps_working_when_redis_is_down(api_client, google, google_token, settings):
    # given the cache is unreachable
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    # when players sign in
    first = sign_in(api_client, google_token(sub="2401"))
    second = sign_in(api_client, google_token(sub="2402"))

    # then they still get in; the keys are simply fetched each time
    assert (first.status_code, second.status_code) == (200, 200)
    assert google.fetches == 2
