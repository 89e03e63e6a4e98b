"""Plans, models and prices as data (billing/plans.py), and their read-only page in the admin."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from billing.models import Subscription
from billing.plans import PLAN_CALL_LIMITS, PLAN_TOKEN_LIMITS, cost_usd, plan_get, plans_all
from billing.selectors import user_plan
from billing.services import quota_reserve


def limits(name: str) -> tuple:
    plan = plan_get(name)
    return plan.model, plan.prompt_tokens, plan.response_tokens, plan.calls, plan.period


def test_the_plan_table_is_the_customers():
    assert limits("free") == ("gpt-4o-mini", 1_000, 2_000, 30, "week")
    assert limits("basic") == ("gpt-4o-mini", 2_000, 4_000, 200, "week")
    assert limits("basic_special") == ("o4-mini", 2_000, 4_000, 100, "month")
    assert "o4-mini" in plan_get("free").selectable_models
    assert PLAN_TOKEN_LIMITS["basic"] == (2_000, 4_000)
    assert PLAN_CALL_LIMITS == {"free": 30, "basic": 200, "basic_special": 100}
    for plan in plans_all().values():
        assert plan.fallback_model != plan.model


def test_cost_is_exact_in_decimal():
    # 1,000 prompt (200 of them cached) + 2,000 completion on gpt-4o-mini:
    # 800 * 0.15 + 200 * 0.075 + 2000 * 0.60 = 120 + 15 + 1200 = 1335 per million
    cost = cost_usd("gpt-4o-mini", prompt_tokens=1_000, completion_tokens=2_000, cached_tokens=200)
    assert cost == Decimal("0.001335")
    assert cost_usd("o4-mini", prompt_tokens=2_000, completion_tokens=4_000) == Decimal("0.0198")
    assert cost_usd("gpt-4o", prompt_tokens=1, completion_tokens=1) == Decimal("0.0000125")
    assert cost_usd("text-embedding-3-small", prompt_tokens=1_000_000, completion_tokens=0) == Decimal("0.02")
    # a thousand one-token calls add up exactly, with no float drift
    one_token = cost_usd("gpt-4o-mini", prompt_tokens=1, completion_tokens=0)
    assert sum(one_token for _ in range(1000)) == Decimal("0.00015")


@pytest.mark.parametrize(
    "kwargs",
    [{"prompt_tokens": 10, "completion_tokens": 0, "cached_tokens": 11}, {"prompt_tokens": -1, "completion_tokens": 0}],
)
def test_cost_rejects_impossible_token_counts(kwargs):
    with pytest.raises(ValueError):
        cost_usd("gpt-4o-mini", **kwargs)


def test_cost_of_an_unknown_model_is_an_error_not_zero():
    with pytest.raises(KeyError):
        cost_usd("gpt-3.5-turbo", prompt_tokens=1, completion_tokens=1)


@pytest.mark.django_db
def test_a_premium_plan_on_gpt_4o_is_added_by_configuration_alone(settings, user):
    premium_spec = {"model": "gpt-4o", "fallback_model": "gpt-4o-mini", "prompt_tokens": 4000,
                    "response_tokens": 1024, "calls": 2, "period": "month", "rank": 30}  # fmt: skip
    settings.PLANS_EXTRA = {"premium": premium_spec}
    premium = plan_get("premium")
    assert (premium.model, premium.calls, premium.period) == ("gpt-4o", 2, "month")
    # and a subscriber on it gets its limit
    Subscription.objects.create(user=user, plan="premium")
    assert user_plan(user=user) == premium
    assert quota_reserve(user=user).remaining == 1


def test_configuration_can_change_one_field_of_a_built_in_plan(settings):
    settings.PLANS_EXTRA = {"free": {"calls": 10}}
    assert plan_get("free").calls == 10
    assert plan_get("free").model == "gpt-4o-mini"


@pytest.mark.parametrize(
    "extra",
    [{"premium": {"model": "gpt-5-unpriced", "prompt_tokens": 1, "response_tokens": 1, "calls": 1,
                  "period": "month"}},
     {"premium": {"model": "gpt-4o", "prompt_tokens": 1, "response_tokens": 1, "calls": 1, "period": "day"}},
     {"premium": {"model": "gpt-4o"}}],
)  # fmt: skip
def test_a_misconfigured_plan_is_refused(settings, extra):
    settings.PLANS_EXTRA = extra
    with pytest.raises(ImproperlyConfigured):
        plans_all()


@pytest.mark.django_db
def test_the_admin_shows_plans_and_prices_read_only(staff_user):
    client = Client()
    client.force_login(staff_user)
    page = client.get("/admin/billing/plancatalog/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in ("basic_special", "o4-mini", "gpt-4o-mini", "2000", "4000", "month", "gpt-4o", "10.00", "0.075"):
        assert text in html
    assert client.get("/admin/billing/plancatalog/add/").status_code == 403
    assert client.get("/admin/billing/").status_code == 200


@pytest.mark.django_db
def test_the_plans_page_is_for_staff_only(user):
    client = Client()
    client.force_login(user)
    assert client.get("/admin/billing/plancatalog/").status_code == 302  # to the admin login
