"""Plan overrides: staff give a plan by hand with a required note; it wins over the store at once and is audited."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.errors import QuotaExceeded
from billing.models import PlanOverride, Subscription
from billing.selectors import usage_summary, user_plan
from billing.services import plan_override_end, plan_override_grant, quota_reserve
from tests.conftest import bearer_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


def spend(user, calls: int) -> None:
    for _ in range(calls):
        quota_reserve(user=user)


def grant(user, staff, plan="basic", note="CS-1042: store charged twice, comp a month", **fields) -> PlanOverride:
    return plan_override_grant(user=user, plan=plan, note=note, created_by=staff, **fields)


def expire(override: PlanOverride) -> None:
    """Move the override into the past: granted two hours ago, expired one hour ago."""
    now = timezone.now()
    PlanOverride.objects.filter(pk=override.pk).update(created_at=now - timedelta(hours=2),
                                                       expires_at=now - timedelta(hours=1))  # fmt: skip


# --- which plan applies ------------------------------------------------------------------------------------


def test_an_override_wins_over_the_store_subscription_at_once(user, staff):
    # given a player on the weekly basic plan through the store
    Subscription.objects.create(user=user, plan="basic", store="app_store")
    # when staff grant basic_special
    grant(user, staff, plan="basic_special")
    # then the very next question counts against basic_special's month
    reservation = quota_reserve(user=user)
    assert (reservation.plan, reservation.period, reservation.limit) == ("basic_special", "month", 100)
    assert user_plan(user=user).name == "basic_special"


def test_an_override_counts_the_calls_already_used_this_period(user, staff):
    # given a free player who used all 30 calls of the week
    spend(user, 30)
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user)
    # when staff grant basic (200 a week)
    grant(user, staff)
    # then they can ask again, with the 30 calls already counted
    assert quota_reserve(user=user).remaining == 200 - 31


def test_ending_an_override_puts_the_player_back_on_their_subscription_at_once(user, staff):
    # given a free player on an override who asked 40 questions this week
    override = grant(user, staff)
    spend(user, 40)
    # when staff end it
    ended = plan_override_end(override=override, ended_by=staff)
    # then the free plan applies again, and 40 > 30 means no more questions this week
    assert user_plan(user=user).name == "free"
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user)
    assert ended.ended_by == staff
    assert ended.ended_at is not None


def test_an_expired_override_no_longer_applies(user, staff):
    Subscription.objects.create(user=user, plan="basic")
    override = grant(user, staff, plan="basic_special", expires_at=timezone.now() + timedelta(days=7))
    assert user_plan(user=user).name == "basic_special"
    expire(override)
    assert user_plan(user=user).name == "basic"


def test_the_newest_active_override_wins_and_an_older_one_applies_again_when_it_ends(user, staff):
    # given a month of basic, then a week of basic_special granted on top
    grant(user, staff, plan="basic", expires_at=timezone.now() + timedelta(days=30))
    newer = grant(user, staff, plan="basic_special", expires_at=timezone.now() + timedelta(days=7))
    assert user_plan(user=user).name == "basic_special"
    # when the newer one is ended, then the older, still running, applies
    plan_override_end(override=newer, ended_by=staff)
    assert user_plan(user=user).name == "basic"


def test_an_override_to_a_plan_no_longer_configured_falls_back_to_the_subscription(user, staff, settings):
    # given a premium plan added by configuration and granted to a basic subscriber
    settings.PLANS_EXTRA = {"premium": {"model": "gpt-4o", "prompt_tokens": 4000, "response_tokens": 1024,
                                        "calls": 300, "period": "month", "rank": 30}}  # fmt: skip
    Subscription.objects.create(user=user, plan="basic")
    grant(user, staff, plan="premium")
    assert user_plan(user=user).name == "premium"
    # when premium is removed from the configuration, then the store's plan applies, not free
    settings.PLANS_EXTRA = {}
    assert user_plan(user=user).name == "basic"
    assert usage_summary(user=user)["override"] is None


def test_the_plan_is_read_in_one_query(user, staff, django_assert_num_queries):
    Subscription.objects.create(user=user, plan="basic")
    grant(user, staff, plan="basic_special")
    with django_assert_num_queries(1):
        assert user_plan(user=user).name == "basic_special"


# --- what a grant needs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   \n\t "])
def test_a_grant_without_a_note_is_refused(user, staff, note):
    with pytest.raises(ValidationError) as refused:
        grant(user, staff, note=note)
    assert "note" in refused.value.message_dict
    assert not PlanOverride.objects.exists()


def test_a_grant_of_an_unknown_plan_is_refused(user, staff):
    with pytest.raises(ValidationError) as refused:
        grant(user, staff, plan="gold")
    assert "plan" in refused.value.message_dict
    assert user_plan(user=user).name == "free"


def test_a_grant_that_expires_in_the_past_is_refused(user, staff):
    with pytest.raises(ValidationError) as refused:
        grant(user, staff, expires_at=timezone.now() - timedelta(minutes=1))
    assert "expires_at" in refused.value.message_dict
    assert not PlanOverride.objects.exists()


@pytest.mark.parametrize("who", ["player", "inactive staff"])
def test_only_active_staff_may_grant_or_end_an_override(user, staff, who):
    outsider = UserFactory() if who == "player" else UserFactory(is_staff=True, is_active=False)
    with pytest.raises(PermissionDenied):
        grant(user, outsider)
    override = grant(user, staff)
    with pytest.raises(PermissionDenied):
        plan_override_end(override=override, ended_by=outsider)
    override.refresh_from_db()
    assert override.ended_at is None


@pytest.mark.parametrize("note", ["", "  "])
def test_the_database_refuses_an_override_without_a_note(user, staff, note):
    # Even code that skips the service cannot store one.
    with pytest.raises(IntegrityError, match="billing_planoverride_note_required"), transaction.atomic():
        PlanOverride.objects.create(user=user, plan="basic", note=note, created_by=staff)


def test_the_database_refuses_an_end_without_who_ended_it(user, staff):
    override = grant(user, staff)
    with pytest.raises(IntegrityError, match="billing_planoverride_ended_with_who_and_when"), transaction.atomic():
        PlanOverride.objects.filter(pk=override.pk).update(ended_at=timezone.now())


# --- the audit trail ---------------------------------------------------------------------------------------


def test_the_grant_records_who_why_and_when(user, staff):
    before = timezone.now()
    override = grant(user, staff, note="  Promotion: Elden Ring DLC week  ")
    stored = PlanOverride.objects.get(pk=override.pk)
    assert (stored.user, stored.plan, stored.created_by) == (user, "basic", staff)
    assert stored.note == "Promotion: Elden Ring DLC week"
    assert before <= stored.created_at <= timezone.now()
    assert (stored.expires_at, stored.ended_at, stored.ended_by) == (None, None, None)


def test_ending_twice_keeps_who_ended_it_first(user, staff):
    override = grant(user, staff)
    first = plan_override_end(override=override, ended_by=staff)
    other = UserFactory(is_staff=True)
    second = plan_override_end(override=override, ended_by=other)
    assert (second.ended_by, second.ended_at) == (staff, first.ended_at)


def test_an_expired_override_cannot_be_ended(user, staff):
    override = grant(user, staff, expires_at=timezone.now() + timedelta(days=1))
    expire(override)
    with pytest.raises(ValidationError):
        plan_override_end(override=override, ended_by=staff)
    override.refresh_from_db()
    assert override.ended_at is None


def test_ending_leaves_every_row_in_the_history(user, staff):
    first = grant(user, staff, plan="basic")
    plan_override_end(override=first, ended_by=staff)
    grant(user, staff, plan="basic_special", note="CS-1200: second comp")
    history = list(PlanOverride.objects.filter(user=user).values_list("plan", "note", "ended_by"))
    assert history == [
        ("basic_special", "CS-1200: second comp", None),
        ("basic", "CS-1042: store charged twice, comp a month", staff.pk),
    ]


# --- what the player's app sees ------------------------------------------------------------------------------


def test_billing_me_shows_the_overridden_plan_and_calls_left(user, staff):
    # given a basic store subscriber who asked 12 questions this month, then got basic_special from support
    Subscription.objects.create(user=user, plan="basic", store="app_store", product_id="basic_weekly")
    spend(user, 12)
    expires = (timezone.now() + timedelta(days=14)).replace(microsecond=0)
    grant(user, staff, plan="basic_special", expires_at=expires)
    # when the app reads the plan
    body = bearer_client(user).get("/billing/me").json()
    # then it shows basic_special's month, the calls already used, and the grant (never staff's note)
    assert (body["plan"], body["period"], body["limit"], body["used"], body["remaining"]) == (
        "basic_special", "month", 100, 12, 88)  # fmt: skip
    assert body["model"] == "o4-mini"
    assert body["override"] == {"plan": "basic_special", "expires_at": expires.isoformat()}
    assert body["subscription"]["store"] == "app_store"
    assert "CS-1042" not in str(body)


def test_auth_me_shows_the_overridden_plan_and_back_after_it_ends(user, staff):
    spend(user, 5)
    override = grant(user, staff)
    body = bearer_client(user).get("/auth/me").json()
    assert body["plan"] == "basic"
    assert (body["usage"]["limit"], body["usage"]["used"], body["usage"]["remaining"]) == (200, 5, 195)

    plan_override_end(override=override, ended_by=staff)

    body = bearer_client(user).get("/auth/me").json()
    assert body["plan"] == "free"
    assert (body["usage"]["limit"], body["usage"]["remaining"]) == (30, 25)


def test_billing_me_without_an_override_says_so(auth_client):
    assert auth_client.get("/billing/me").json()["override"] is None


def test_a_question_over_the_free_limit_goes_through_once_staff_grant_a_plan(user, staff):
    # given a free player who used their 30 calls
    from coach.models import QuestionLog
    from dev.demo.loader import demo_load

    demo_load()
    spend(user, 30)
    client = bearer_client(user)
    question = {"game": "elden-ring", "question": "말레니아 2페이즈?"}
    refused = client.post("/api/coach/ask", question, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    # when staff grant basic, then the next question is answered on basic with the 30 calls counted
    grant(user, staff)
    answered = client.post("/api/coach/ask", question, format="json")
    assert answered.status_code == 200
    assert QuestionLog.objects.get(id=answered.json()["id"]).plan == "basic"
    assert answered["X-Plan-Remaining"] == str(200 - 31)
