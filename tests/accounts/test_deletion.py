"""DELETE /auth/me: personal data goes, accounting rows stay, every token stops working at once."""

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import IntegrityError

from accounts.models import User
from accounts.services import user_delete
from billing.models import CallRecord, UsageCounter
from tests.accounts.conftest import ANDROID_CLIENT_ID, sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def test_deleting_the_account_erases_personal_data_and_keeps_accounting_rows(api_client, google_token):
    # given a Google player with usage on record
    tokens = sign_in(api_client, google_token(sub="4001", email="player@gmail.com", name="Kim")).json()
    user = User.objects.get()
    public_id = user.public_id
    UsageCounter.objects.create(user=user, period="week", period_start="2026-11-23", used=7)
    CallRecord.objects.create(user=user, plan="free", week_start="2026-11-23", month_start="2026-11-01")

    # when they delete their account
    response = api_client.delete("/auth/me", **_bearer(tokens["access"]))

    # then personal data is gone
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.email == ""
    assert (user.first_name, user.last_name, user.display_name) == ("", "", "")
    assert user.favourite_games == []
    assert "kim" not in user.username.lower() and "player" not in user.username.lower()
    assert not user.has_usable_password()
    assert not SocialAccount.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    # and the row is kept, inactive and marked deleted, so usage and cost rows still add up
    assert user.is_active is False
    assert user.deleted_at is not None
    assert user.public_id == public_id
    assert UsageCounter.objects.get(user=user).used == 7
    assert CallRecord.objects.filter(user=user).count() == 1


def test_deleting_the_account_stops_every_token_at_once(api_client, google_token):
    # given the player is signed in on two phones
    phone = sign_in(api_client, google_token(sub="4002")).json()
    tablet = sign_in(api_client, google_token(sub="4002", aud=ANDROID_CLIENT_ID)).json()

    # when they delete the account from one
    assert api_client.delete("/auth/me", **_bearer(phone["access"])).status_code == 204

    # then no access or refresh token of either device works any more
    for session in (phone, tablet):
        assert api_client.get("/auth/me", **_bearer(session["access"])).status_code == 401
        refreshed = api_client.post("/auth/token/refresh", {"refresh": session["refresh"]}, format="json")
        assert refreshed.status_code == 401


def test_signing_in_again_after_deletion_starts_a_fresh_account(api_client, google_token):
    first = sign_in(api_client, google_token(sub="4003")).json()
    api_client.delete("/auth/me", **_bearer(first["access"]))

    again = sign_in(api_client, google_token(sub="4003"))

    assert again.status_code == 200
    assert again.json()["is_new_user"] is True
    assert again.json()["user"]["public_id"] != first["user"]["public_id"]
    assert again.json()["user"]["favourite_games"] == []


def test_deleting_twice_is_harmless(user):
    user_delete(user=user)
    deleted_at = User.objects.get(pk=user.pk).deleted_at
    user_delete(user=user)
    assert User.objects.get(pk=user.pk).deleted_at == deleted_at


def test_database_refuses_a_deleted_account_that_is_still_active(user):
    user_delete(user=user)
    with pytest.raises(IntegrityError):
        User.objects.filter(pk=user.pk).update(is_active=True)


def test_deleting_one_account_leaves_others_untouched(api_client, google_token):
    other = UserFactory()
    tokens = sign_in(api_client, google_token(sub="4004")).json()
    api_client.delete("/auth/me", **_bearer(tokens["access"]))
    other.refresh_from_db()
    assert other.is_active and other.deleted_at is None and other.email
