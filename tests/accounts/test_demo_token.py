"""The demo_token command: an access token for the README's curl lines, only with DEBUG on."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_demo_token_is_refused_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_token")
    assert not User.objects.filter(username="demo").exists()


def test_demo_token_prints_an_access_token_that_opens_auth_me(settings, api_client):
    # given the embedded demo (DEBUG on)
    settings.DEBUG = True
    out = StringIO()

    # when the command runs twice (the README may be followed more than once)
    call_command("demo_token", stdout=out)
    call_command("demo_token", stdout=StringIO())

    # then its token is a working Bearer token for the one demo user
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Demo Player"
    assert response.json()["plan"] == "free"
    assert User.objects.filter(username="demo").count() == 1
