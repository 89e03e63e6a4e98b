"""Operators can tell whether Google sign-in is configured: a deploy check and a /readyz field."""

import pytest
from django.core.checks import run_checks

from tests.accounts.conftest import IOS_CLIENT_ID, google_apps_setting

pytestmark = pytest.mark.django_db


def test_deploy_check_warns_when_no_google_client_id_is_set(settings):
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting()
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert "accounts.W001" in ids


def test_deploy_check_is_quiet_once_client_ids_are_set(settings):
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(IOS_CLIENT_ID)
    ids = {message.id for message in run_checks(include_deployment_checks=True)}
    assert "accounts.W001" not in ids


@pytest.mark.parametrize(("client_ids", "state"), [((), "not_configured"), ((IOS_CLIENT_ID,), "configured")])
def test_readyz_says_whether_google_sign_in_is_configured(api_client, settings, client_ids, state):
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(*client_ids)
    assert api_client.get("/readyz").json()["checks"]["google_sign_in"] == state
