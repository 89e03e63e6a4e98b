"""Which existing account a new Google identity joins: only one whose email both sides proved."""

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from tests.accounts.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _account_with_email(email: str, *, verified: bool, **fields) -> User:
    user = UserFactory(email=email, **fields)
    EmailAddress.objects.create(user=user, email=email.lower(), primary=True, verified=verified)
    return user


def test_verified_gmail_joins_the_account_that_verified_the_same_address(api_client, google_token):
    # given an account whose address we verified (e.g. through another sign-in method), no Google yet
    existing = _account_with_email("player@gmail.com", verified=True)

    # when Google signs in with that address, verified, in other letter case
    response = sign_in(api_client, google_token(sub="3001", email="Player@Gmail.com"))

    # then the Google identity joins that account
    assert response.status_code == 200
    assert response.json()["is_new_user"] is False
    assert response.json()["user"]["public_id"] == str(existing.public_id)
    assert SocialAccount.objects.get(uid="3001").user == existing
    assert User.objects.count() == 1


def test_workspace_address_with_hosted_domain_joins_the_verified_account(api_client, google_token):
    existing = _account_with_email("kim@studio.example", verified=True)
    response = sign_in(api_client, google_token(sub="3002", email="kim@studio.example", hd="studio.example"))
    assert response.json()["user"]["public_id"] == str(existing.public_id)


def test_address_unverified_on_our_side_never_links(api_client, google_token):
    # given someone registered the victim's address without proving it
    squatter = _account_with_email("victim@gmail.com", verified=False)

    # when the real owner signs in with Google
    response = sign_in(api_client, google_token(sub="3003", email="victim@gmail.com"))

    # then they get their own new account; the squatter's account gains nothing
    assert response.status_code == 200
    assert response.json()["is_new_user"] is True
    assert response.json()["user"]["public_id"] != str(squatter.public_id)
    assert not SocialAccount.objects.filter(user=squatter).exists()


def test_address_only_typed_into_the_user_row_never_links(api_client, google_token):
    typed = UserFactory(email="typed@gmail.com")
    response = sign_in(api_client, google_token(sub="3004", email="typed@gmail.com"))
    assert response.json()["is_new_user"] is True
    assert not SocialAccount.objects.filter(user=typed).exists()


def test_address_google_is_not_authoritative_for_never_links(api_client, google_token):
    # Google verified a naver.com address once, at sign-up; the mailbox may have changed hands since
    existing = _account_with_email("player@naver.com", verified=True)
    response = sign_in(api_client, google_token(sub="3005", email="player@naver.com"))
    assert response.json()["is_new_user"] is True
    assert not SocialAccount.objects.filter(user=existing).exists()


def test_unverified_google_email_is_refused_and_links_nothing(api_client, google_token):
    existing = _account_with_email("player@gmail.com", verified=True)
    response = sign_in(api_client, google_token(sub="3006", email="player@gmail.com", email_verified=False))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_email_unverified"
    assert not SocialAccount.objects.filter(user=existing).exists()


def test_staff_accounts_are_never_joined_by_email(api_client, google_token):
    staff = _account_with_email("admin@gmail.com", verified=True, is_staff=True)
    response = sign_in(api_client, google_token(sub="3007", email="admin@gmail.com"))
    assert response.json()["is_new_user"] is True
    assert not SocialAccount.objects.filter(user=staff).exists()
    assert User.objects.get(public_id=response.json()["user"]["public_id"]).is_staff is False


def test_account_with_another_google_identity_is_not_joined(api_client, google_token):
    # given an account already signed in with Google account A
    first = sign_in(api_client, google_token(sub="3008", email="shared@gmail.com")).json()

    # when Google account B, now holding the same address, signs in
    second = sign_in(api_client, google_token(sub="3009", email="shared@gmail.com"))

    # then B gets its own account
    assert second.status_code == 200
    assert second.json()["is_new_user"] is True
    assert second.json()["user"]["public_id"] != first["user"]["public_id"]
    assert SocialAccount.objects.count() == 2


def test_deleted_or_inactive_accounts_are_never_joined(api_client, google_token):
    inactive = _account_with_email("gone@gmail.com", verified=True, is_active=False)
    response = sign_in(api_client, google_token(sub="3010", email="gone@gmail.com"))
    assert response.json()["is_new_user"] is True
    assert not SocialAccount.objects.filter(user=inactive).exists()
