"""RevenueCat left unconfigured: the webhook refuses everything and says why, and `check --deploy` reports it."""

import logging
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from billing.checks import revenuecat_is_configured
from billing.models import Subscription, WebhookEvent
from billing.selectors import user_plan
from tests.billing.payloads import event
from tests.billing.states import subscribed

# --- the webhook without its secret -------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, "", "Bearer rc-webhook-secret-0123456789", "Bearer anything"])
def test_webhook_without_a_secret_refuses_every_delivery_logs_why_and_changes_nothing(
    deliver, revenuecat, settings, user, caplog, auth
):
    # given RevenueCat reports a purchase, but the server has no webhook secret
    subscribed(revenuecat, str(user.public_id))
    settings.REVENUECAT_WEBHOOK_AUTH = ""

    # when a purchase event is delivered, with or without an Authorization header
    with caplog.at_level(logging.WARNING, logger="billing"):
        response = deliver(event("INITIAL_PURCHASE", str(user.public_id)), auth=auth)

    # then it is refused in the error shape, the log says why, and nothing is stored, queued or granted
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_not_configured"
    assert any("REVENUECAT_WEBHOOK_AUTH is not set" in record.getMessage() for record in caplog.records)
    assert not WebhookEvent.objects.exists()
    assert not Subscription.objects.exists()
    assert response.queued == 0
    assert revenuecat.requests == []
    assert user_plan(user=user).name == "free"


# --- the deploy check ---------------------------------------------------------------------------


def _configure(settings, *, webhook_auth: str, api_key: str) -> None:
    settings.DEBUG = False
    settings.REVENUECAT_WEBHOOK_AUTH, settings.REVENUECAT_API_KEY = webhook_auth, api_key


@pytest.mark.parametrize(
    ("webhook_auth", "api_key", "expected"),
    [("", "sk_x", ["billing.E004"]), ("Bearer x", "", ["billing.E005"]), ("", "", ["billing.E004", "billing.E005"]),
     ("Bearer x", "sk_x", [])],
)  # fmt: skip
def test_deploy_check_reports_each_empty_revenuecat_secret(settings, webhook_auth, api_key, expected):
    _configure(settings, webhook_auth=webhook_auth, api_key=api_key)
    assert [error.id for error in revenuecat_is_configured(None)] == expected


def test_deploy_check_is_quiet_with_debug_on(settings):
    _configure(settings, webhook_auth="", api_key="")
    settings.DEBUG = True
    assert revenuecat_is_configured(None) == []


def test_check_deploy_fails_without_the_webhook_secret_and_plain_check_does_not(settings):
    _configure(settings, webhook_auth="", api_key="sk_x")

    with pytest.raises(SystemCheckError, match=r"billing\.E004"):
        call_command("check", "--deploy", stdout=StringIO(), stderr=StringIO())
    # startup and `manage.py check` run without deploy checks: the process still starts
    assert "billing.E004" not in [message.id for message in run_checks()]


def test_check_deploy_reports_no_billing_error_with_both_secrets_set(settings):
    _configure(settings, webhook_auth="Bearer x", api_key="sk_x")
    ids = [message.id for message in run_checks(include_deployment_checks=True)]
    assert not [i for i in ids if i in ("billing.E004", "billing.E005")]
