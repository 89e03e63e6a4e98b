"""System checks on the plan configuration, and /readyz saying whether RevenueCat is set up."""

import pytest

from billing.checks import plans_are_valid


def test_the_shipped_configuration_passes():
    assert plans_are_valid(None) == []


def test_an_entitlement_mapped_to_a_plan_that_does_not_exist_is_an_error(settings):
    settings.REVENUECAT_ENTITLEMENT_PLANS = {"pro": "premium"}
    assert [error.id for error in plans_are_valid(None)] == ["billing.E003"]


def test_a_broken_extra_plan_is_an_error(settings):
    settings.PLANS_EXTRA = {"premium": {"model": "gpt-4o"}}
    assert [error.id for error in plans_are_valid(None)] == ["billing.E001"]


@pytest.mark.django_db
def test_readyz_says_whether_revenuecat_is_configured(api_client, settings):
    settings.REVENUECAT_WEBHOOK_AUTH = ""
    assert api_client.get("/readyz").json()["checks"]["revenuecat"] == "not_configured"
    settings.REVENUECAT_WEBHOOK_AUTH, settings.REVENUECAT_API_KEY = "Bearer x", "sk_x"
    assert api_client.get("/readyz").json()["checks"]["revenuecat"] == "configured"
