"""Staff sign in to the admin with Google: allauth's web flow against a local Google (tests/servers/google_certs.py)
that plays the authorization-code flow; Django's test client follows each real redirect."""

from io import StringIO
from urllib.parse import parse_qs, urlsplit

# allauth reads Google's endpoint URLs when its Google views are imported: at collection, the settings are the
# base ones (GOOGLE_*_URL from tests/embedded.py), whichever test later overrides SOCIALACCOUNT_PROVIDERS.
import allauth.socialaccount.providers.google.views  # noqa: F401
import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.conftest import CLIENT_IDS, IOS_CLIENT_ID, google_apps_setting, sign_in
from tests.embedded import google_web_server
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STAFF_CLIENT_ID = "2000-staff-web.apps.googleusercontent.com"
STAFF_CLIENT_SECRET = "GOCSPX-staff-web-secret"
REFUSED = "may not sign in to the admin"


def staff_apps_setting() -> dict:
    """SOCIALACCOUNT_PROVIDERS as base.py builds it with GOOGLE_CLIENT_IDS and the staff web client set."""
    providers = google_apps_setting(*CLIENT_IDS)
    providers["google"]["APPS"].append(
        {"client_id": STAFF_CLIENT_ID, "secret": STAFF_CLIENT_SECRET, "key": "", "settings": {"staff": True}}
    )
    return providers


@pytest.fixture
def google_web(google, google_key, settings):
    """Google's OAuth endpoints (the ones the settings point allauth at) with our staff web client registered;
    studio.kr's Workspace and lead@gmail.com are allowed."""
    server = google_web_server()
    server.reset(google_key)
    server.register_client(STAFF_CLIENT_ID, STAFF_CLIENT_SECRET)
    settings.STAFF_GOOGLE_CLIENT_ID = STAFF_CLIENT_ID
    settings.STAFF_GOOGLE_CLIENT_SECRET = STAFF_CLIENT_SECRET
    settings.STAFF_GOOGLE_DOMAINS = ["studio.kr"]
    settings.STAFF_GOOGLE_EMAILS = ["lead@gmail.com"]
    settings.SOCIALACCOUNT_PROVIDERS = staff_apps_setting()
    return server


def google_account(**claims) -> dict:
    """Who is signed in to Google in the browser: a studio.kr Workspace account unless overridden."""
    return {"sub": "2001", "email": "kim@studio.kr", "email_verified": True, "hd": "studio.kr", "name": "김 스태프",
            **claims}  # fmt: skip


def staff_google_sign_in(client: Client, server, *, next_url: str = "/admin/"):
    """Press the admin's "Sign in with Google", consent at Google, come back: the callback's response."""
    start = client.post(reverse("google_login"), {"process": "login", "next": next_url})
    assert start.status_code == 302, start.content
    authorize = start["Location"]
    assert authorize.startswith(f"{server.base_url}/o/oauth2/v2/auth?")
    at_google = requests.get(authorize, allow_redirects=False, timeout=5)  # the browser at Google
    assert at_google.status_code == 302, at_google.text
    callback = urlsplit(at_google.headers["Location"])
    assert (callback.scheme, callback.netloc) == ("http", "testserver")
    return client.get(f"{callback.path}?{callback.query}")  # we exchange the code with Google over HTTP


def login_page_messages(client: Client, response) -> list[str]:
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:login")
    page = client.get(response["Location"])
    return [str(message) for message in get_messages(page.wsgi_request)] or [page.content.decode()]


def test_admin_login_page_shows_the_google_button_only_with_a_staff_web_client(client, settings, google_web):
    # given the staff web client configured
    page = client.get("/admin/login/?next=/admin/")
    # then the page offers Google next to the password form
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="google-login-form"' in body and reverse("google_login") in body
    assert 'id="login-form"' in body

    # when no staff web client is configured there is no button, and the flow cannot be started
    settings.STAFF_GOOGLE_CLIENT_ID = settings.STAFF_GOOGLE_CLIENT_SECRET = ""
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(*CLIENT_IDS)
    body = client.get("/admin/login/").content.decode()
    assert 'id="google-login-form"' not in body and 'id="login-form"' in body
    assert client.post(reverse("google_login"), {"process": "login"}).status_code == 404


def test_allowed_workspace_account_gets_a_new_staff_account_and_opens_the_admin(client, google_web):
    # given an allowed Workspace account signed in to Google
    google_web.signed_in_as = google_account(sub="2001", email="Kim@Studio.kr")

    # when they sign in with Google from the admin's login page
    response = staff_google_sign_in(client, google_web)

    # then they land in the admin, signed in as a new staff account with no password
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    user = User.objects.get()
    assert user.is_staff and not user.is_superuser and not user.has_usable_password()
    assert user.email == "kim@studio.kr" and user.display_name == "김 스태프"
    assert SocialAccount.objects.get(user=user).uid == "2001"
    assert EmailAddress.objects.get(user=user).verified
    # and allauth spoke Google's protocol: the authorize request, then the code exchanged with the secret
    (exchange,) = google_web.token_requests
    assert exchange["client_id"] == STAFF_CLIENT_ID and exchange["client_secret"] == STAFF_CLIENT_SECRET
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == "http://testserver/staff/auth/google/login/callback/"


def test_the_authorize_request_asks_for_openid_email_and_profile_with_a_state(client, google_web):
    start = client.post(reverse("google_login"), {"process": "login", "next": "/admin/"})
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["client_id"] == [STAFF_CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["state"][0]


def test_signing_in_again_is_the_same_staff_account(client, google_web):
    google_web.signed_in_as = google_account(sub="2002")
    staff_google_sign_in(client, google_web)
    client.logout()

    response = staff_google_sign_in(client, google_web)

    assert response["Location"] == "/admin/"
    assert User.objects.count() == 1 and SocialAccount.objects.count() == 1


def test_allowed_address_links_to_the_staff_user_an_operator_made_and_the_password_still_works(client, google_web):
    # given a staff user made with createsuperuser (a password, an email, no Google identity)
    lead = User.objects.create_superuser("lead", "Lead@gmail.com", "s3cret-pass!")
    google_web.signed_in_as = google_account(sub="2003", email="lead@gmail.com", hd=None)

    # when that person signs in with Google
    assert staff_google_sign_in(client, google_web)["Location"] == "/admin/"

    # then it is the same account, now linked, and the password still signs in too
    assert client.get("/admin/").context["user"] == lead
    assert SocialAccount.objects.get(uid="2003").user == lead
    assert User.objects.count() == 1
    client.logout()
    by_password = client.post("/admin/login/?next=/admin/", {"username": "lead", "password": "s3cret-pass!"})
    assert by_password.status_code == 302 and by_password["Location"] == "/admin/"


def test_a_player_whose_google_account_is_allowed_is_promoted_to_staff(client, google_web):
    # given a player who signed in from the app with a Google account that is now allowed
    player = UserFactory(email="kim@studio.kr")
    SocialAccount.objects.create(user=player, provider="google", uid="2004", extra_data={})
    google_web.signed_in_as = google_account(sub="2004")

    assert staff_google_sign_in(client, google_web)["Location"] == "/admin/"

    player.refresh_from_db()
    assert player.is_staff and User.objects.count() == 1


def test_a_player_whose_google_account_is_not_allowed_is_refused_and_stays_a_player(client, google_web):
    player = UserFactory(email="someone@gmail.com")
    SocialAccount.objects.create(user=player, provider="google", uid="2005", extra_data={})
    google_web.signed_in_as = google_account(sub="2005", email="someone@gmail.com", hd=None)

    response = staff_google_sign_in(client, google_web)

    assert any(REFUSED in message for message in login_page_messages(client, response))
    player.refresh_from_db()
    assert not player.is_staff
    assert client.get("/admin/").status_code == 302  # not signed in


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"email": "other@gmail.com", "hd": None}, id="gmail-not-listed"),
        pytest.param({"email": "kim@elsewhere.kr", "hd": "elsewhere.kr"}, id="other-workspace"),
        # a personal Google account created with a work address: Google does not host that mailbox
        pytest.param({"email": "kim@studio.kr", "hd": None}, id="studio-address-without-workspace"),
        pytest.param({"email_verified": False}, id="unverified"),
    ],
)
def test_a_google_account_that_is_not_allowed_is_refused_with_a_message_and_nothing_is_written(
    client, google_web, claims
):
    google_web.signed_in_as = google_account(**claims)

    response = staff_google_sign_in(client, google_web)

    messages = login_page_messages(client, response)
    assert any(REFUSED in message for message in messages), messages
    assert (User.objects.count(), SocialAccount.objects.count(), EmailAddress.objects.count()) == (0, 0, 0)
    assert client.get("/admin/").status_code == 302


def test_the_refusal_is_shown_on_the_admin_login_page(client, google_web):
    google_web.signed_in_as = google_account(email="other@gmail.com", hd=None)
    response = staff_google_sign_in(client, google_web)
    page = client.get(response["Location"], follow=True)
    assert "other@gmail.com" in page.content.decode() and REFUSED in page.content.decode()


def test_a_disabled_staff_account_is_refused(client, google_web):
    UserFactory(email="kim@studio.kr", is_staff=True, is_active=False)
    google_web.signed_in_as = google_account(sub="2006")

    response = staff_google_sign_in(client, google_web)

    assert any("disabled" in message for message in login_page_messages(client, response))
    assert SocialAccount.objects.count() == 0


def test_cancelling_at_google_returns_to_the_login_page_with_a_message(client, google_web):
    google_web.signed_in_as = None  # the person clicks Cancel on Google's consent screen

    response = staff_google_sign_in(client, google_web)

    assert any("did not complete" in message for message in login_page_messages(client, response))
    assert User.objects.count() == 0


def test_a_callback_with_a_forged_state_is_refused(client, google_web):
    google_web.signed_in_as = google_account()
    response = client.get(reverse("google_callback"), {"code": "4/0Aforged", "state": "not-ours"})
    assert any("did not complete" in message for message in login_page_messages(client, response))
    assert google_web.token_requests == [] and User.objects.count() == 0


def test_the_apps_sign_in_still_works_and_refuses_tokens_for_the_staff_client(api_client, google_web, google_token):
    # the app's client ids still sign players in (as players, whatever their address)
    response = sign_in(api_client, google_token(aud=IOS_CLIENT_ID, sub="3001", email="kim@studio.kr", hd="studio.kr"))
    assert response.status_code == 200
    assert not User.objects.get().is_staff
    # the staff web client is not one of the app's audiences
    refused = sign_in(api_client, google_token(aud=STAFF_CLIENT_ID, sub="3002"))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "google_token_wrong_audience"


def test_a_new_staff_account_joins_the_staff_group_and_may_curate_content_but_not_billing(client, google_web):
    # given no staff group yet (STAFF_GOOGLE_GROUP is "staff" by default)
    assert not Group.objects.exists()
    google_web.signed_in_as = google_account(sub="2010")

    # when an allowed Workspace account signs in with Google for the first time
    assert staff_google_sign_in(client, google_web)["Location"] == "/admin/"

    # then its new account is in the group, made with the content curation permissions
    user = User.objects.get()
    assert [group.name for group in user.groups.all()] == ["staff"]
    assert user.has_perms(["knowledge.change_document", "knowledge.add_uploadbatch", "coach.view_questionlog",
                           "coach.change_feedback", "knowledge.change_game"])  # fmt: skip
    assert not user.has_perm("knowledge.delete_document") and not user.has_perm("billing.view_subscription")
    assert not user.has_perm("accounts.change_user")
    # and the admin shows it the documents and the upload form
    assert client.get("/admin/knowledge/document/").status_code == 200
    assert client.get("/admin/knowledge/uploadbatch/add/").status_code == 200
    assert client.get("/admin/billing/subscription/").status_code == 403


def test_the_group_named_by_the_setting_is_joined_as_a_superuser_left_it(client, google_web, settings):
    # given a group a superuser already made and trimmed, named by the setting
    settings.STAFF_GOOGLE_GROUP = "콘텐츠팀"
    group = Group.objects.create(name="콘텐츠팀")
    group.permissions.set(Permission.objects.filter(codename="view_document"))
    google_web.signed_in_as = google_account(sub="2011")

    staff_google_sign_in(client, google_web)

    # then the new account joins it, and its permissions stay as the superuser set them
    user = User.objects.get()
    assert list(user.groups.all()) == [group]
    assert list(group.permissions.values_list("codename", flat=True)) == ["view_document"]


def test_an_account_already_staff_keeps_its_groups_and_no_group_is_made_when_the_setting_is_empty(
    client, google_web, settings
):
    # given an operator-made staff user, and a second allowed person with the setting emptied
    UserFactory(email="kim@studio.kr", is_staff=True)
    google_web.signed_in_as = google_account(sub="2012")
    staff_google_sign_in(client, google_web)
    client.logout()
    settings.STAFF_GOOGLE_GROUP = ""
    google_web.signed_in_as = google_account(sub="2013", email="lee@studio.kr")

    staff_google_sign_in(client, google_web)

    # then neither joined a group, and none was made
    assert not Group.objects.exists()
    assert User.objects.get(email="lee@studio.kr").is_staff


def test_the_staff_group_command_makes_the_group_and_resets_its_permissions(settings):
    # given a group a superuser emptied
    Group.objects.create(name="staff")
    out = StringIO()

    # when the command runs without and then with --reset
    call_command("staff_group", stdout=out)
    assert not Group.objects.get(name="staff").permissions.exists()
    call_command("staff_group", "--reset", stdout=out)

    # then the defaults are back, listed in the output
    codenames = set(Group.objects.get(name="staff").permissions.values_list("codename", flat=True))
    assert {"view_document", "change_document", "add_uploadbatch", "view_questionlog"} <= codenames
    assert "delete_document" not in codenames
    assert "knowledge.change_document" in out.getvalue()
