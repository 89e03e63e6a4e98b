"""Quota reservations: exact limits per plan and period, plan changes mid-period, refunds, concurrency."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.errors import QuotaExceeded
from billing.models import CallRecord, Subscription, UsageCounter
from billing.periods import period_bounds
from billing.selectors import usage_summary, user_plan, user_with_plan_usage
from billing.services import quota_release, quota_reserve
from tests.factories import UserFactory


def spend(user, calls: int) -> None:
    for _ in range(calls):
        quota_reserve(user=user)


def set_plan(user, plan: str) -> None:
    Subscription.objects.update_or_create(user=user, defaults={"plan": plan})


@pytest.mark.django_db
def test_a_free_player_gets_30_questions_a_week_then_429():
    user = UserFactory()
    reservations = [quota_reserve(user=user) for _ in range(30)]
    assert [r.remaining for r in reservations] == list(range(29, -1, -1))
    with pytest.raises(QuotaExceeded) as refused:
        quota_reserve(user=user)
    error = refused.value
    _, next_monday = period_bounds("week")
    assert (error.status, error.code) == (429, "quota_exceeded")
    assert error.details["resets_at"] == next_monday.isoformat()
    assert 0 < int(error.headers["Retry-After"]) <= 7 * 24 * 3600
    assert usage_summary(user=user)["used"] == 30
    assert CallRecord.objects.filter(user=user).count() == 30


@pytest.mark.django_db
def test_basic_special_counts_by_calendar_month():
    user = UserFactory()
    set_plan(user, "basic_special")
    reservation = quota_reserve(user=user)
    month_start, first_of_next = period_bounds("month")
    assert (reservation.limit, reservation.remaining, reservation.period) == (100, 99, "month")
    assert reservation.period_start == month_start
    assert reservation.resets_at == first_of_next


@pytest.mark.django_db
def test_a_new_period_starts_from_zero():
    # given a player who used all 30 calls last week
    user = UserFactory()
    last_week = period_bounds("week")[0] - timedelta(days=7)
    UsageCounter.objects.create(user=user, period="week", period_start=last_week, used=30)
    # when they ask this week, then they have the full quota again
    assert quota_reserve(user=user).remaining == 29


@pytest.mark.django_db
def test_an_upgrade_mid_week_counts_the_calls_already_used():
    user = UserFactory()
    spend(user, 25)
    set_plan(user, "basic")
    assert quota_reserve(user=user).remaining == 200 - 26


@pytest.mark.django_db
def test_a_downgrade_below_the_calls_already_used_stops_questions_at_once():
    user = UserFactory()
    set_plan(user, "basic")
    spend(user, 40)
    set_plan(user, "free")
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user)
    assert usage_summary(user=user)["remaining"] == 0


@pytest.mark.django_db
def test_switching_from_a_weekly_to_the_monthly_plan_counts_this_months_calls():
    user = UserFactory()
    set_plan(user, "basic")
    spend(user, 50)
    set_plan(user, "basic_special")
    assert quota_reserve(user=user).remaining == 100 - 51


@pytest.mark.django_db
def test_a_refund_gives_back_one_call_even_when_asked_twice():
    user = UserFactory()
    spend(user, 3)
    reservation = quota_reserve(user=user)
    assert reservation.remaining == 26
    quota_release(reservation=reservation)
    quota_release(reservation=reservation)
    assert reservation.released
    assert usage_summary(user=user)["used"] == 3
    assert quota_reserve(user=user).remaining == 26
    record = CallRecord.objects.get(pk=reservation.id)
    assert record.released_at is not None


@pytest.mark.django_db
def test_a_refund_through_a_copy_of_the_reservation_is_still_given_once():
    # the release is recorded in the database, not only on the object that asked for it
    user = UserFactory()
    reservation = quota_reserve(user=user)
    copy = type(reservation)(**{**reservation.__dict__, "released": False})
    quota_release(reservation=reservation)
    quota_release(reservation=copy)
    assert usage_summary(user=user)["used"] == 0


@pytest.mark.django_db
def test_a_refund_returns_the_call_to_both_the_week_and_the_month():
    user = UserFactory()
    reservation = quota_reserve(user=user)
    quota_release(reservation=reservation)
    assert set(UsageCounter.objects.filter(user=user).values_list("period", "used")) == {("week", 0), ("month", 0)}


@pytest.mark.django_db
def test_a_plan_with_no_calls_refuses_every_question(settings):
    settings.PLANS_EXTRA = {"free": {"calls": 0}}
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=UserFactory())


@pytest.mark.django_db
def test_a_reservation_takes_a_bounded_number_of_queries(django_assert_num_queries):
    user = UserFactory()
    quota_reserve(user=user)
    # the plan, then both counters and the call record in one statement
    with django_assert_num_queries(2):
        quota_reserve(user=user)
    # a user read with their plan and usage (as the ask's admission reads the token's user): one
    with_plan = user_with_plan_usage(user_id=user.pk)
    with django_assert_num_queries(1):
        quota_reserve(user=with_plan)


@pytest.mark.django_db
def test_a_monthly_plan_out_of_calls_leaves_this_weeks_count_as_it_was():
    # the week's counter is written first (a fixed order); the month's refusal must take it back
    user = UserFactory()
    set_plan(user, "basic_special")
    month_start = period_bounds("month")[0]
    week_start = period_bounds("week")[0]
    UsageCounter.objects.create(user=user, period="month", period_start=month_start, used=100)
    UsageCounter.objects.create(user=user, period="week", period_start=week_start, used=7)

    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user)

    assert UsageCounter.objects.get(user=user, period="week").used == 7
    assert UsageCounter.objects.get(user=user, period="month").used == 100
    assert not CallRecord.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_weekly_plan_out_of_calls_changes_no_counter():
    user = UserFactory()
    spend(user, 30)

    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user)

    assert UsageCounter.objects.get(user=user, period="week").used == 30
    assert UsageCounter.objects.get(user=user, period="month").used == 30
    assert CallRecord.objects.filter(user=user).count() == 30


def _race(user_ids: list[int], attempts: int) -> tuple[list, list]:
    from accounts.models import User

    won, refused = [], []
    barrier = threading.Barrier(attempts)

    def ask(user_id: int) -> None:
        try:
            user = User.objects.get(pk=user_id)
            barrier.wait(timeout=30)
            won.append(quota_reserve(user=user))
        except QuotaExceeded:
            refused.append(user_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user_ids[i % len(user_ids)],)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return won, refused


@pytest.mark.django_db(transaction=True)
def test_with_n_calls_left_exactly_n_of_many_simultaneous_questions_succeed():
    # given a free player with 5 of 30 calls left
    user = UserFactory()
    spend(user, 25)
    # when 24 questions arrive at the same moment, each on its own database connection
    won, refused = _race([user.pk], 24)
    # then exactly 5 succeed, each with a distinct remaining count, and the rest are refused
    assert len(won) == 5
    assert len(refused) == 19
    assert sorted(r.remaining for r in won) == [0, 1, 2, 3, 4]
    assert usage_summary(user=user)["used"] == 30


@pytest.mark.django_db(transaction=True)
def test_a_players_first_questions_racing_to_create_the_counter_are_all_counted():
    user = UserFactory()
    won, refused = _race([user.pk], 12)
    assert (len(won), len(refused)) == (12, 0)
    assert usage_summary(user=user)["used"] == 12


@pytest.mark.django_db(transaction=True)
def test_simultaneous_refunds_of_one_reservation_give_back_one_call():
    user = UserFactory()
    spend(user, 2)
    reservation = quota_reserve(user=user)
    barrier = threading.Barrier(8)

    def refund():
        barrier.wait(timeout=30)
        quota_release(reservation=reservation)
        connection.close()

    threads = [threading.Thread(target=refund) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert usage_summary(user=user)["used"] == 2


@pytest.mark.django_db(transaction=True)
def test_reservations_and_refunds_of_one_player_at_once_never_deadlock():
    # Many questions of one player at once, half of them given back (throttled, failed, a resend):
    # the refunds and the reservations lock the week and month rows in the same order, so none waits
    # on another crosswise (PostgreSQL would cancel one after deadlock_timeout: a 503 for a player,
    # or a call not given back).
    user = UserFactory()
    set_plan(user, "basic_special")  # 100 calls a month, counted by the month row
    errors, barrier = [], threading.Barrier(12)

    def ask_and_give_back(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(10):
                reservation = quota_reserve(user=user)
                if (n + i) % 2:
                    quota_release(reservation=reservation)
        except Exception as exc:  # every failure is what this test reports
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask_and_give_back, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    kept = CallRecord.objects.filter(user=user, released_at__isnull=True).count()
    assert kept == 60  # 12 x 10, every other one given back
    assert UsageCounter.objects.get(user=user, period="week").used == kept
    assert UsageCounter.objects.get(user=user, period="month").used == kept


@pytest.mark.django_db
def test_usage_summary_reports_plan_period_and_reset(user):
    spend(user, 4)
    summary = usage_summary(user=user)
    start, resets_at = period_bounds("week")
    assert summary == {
        "plan": "free", "model": "gpt-4o-mini", "period": "week", "period_start": start.isoformat(), "used": 4,
        "limit": 30, "remaining": 26, "resets_at": resets_at.isoformat(), "prompt_tokens": 1000,
        "response_tokens": 2000, "subscription": None, "override": None,
    }  # fmt: skip
    assert timezone.now() < resets_at


@pytest.mark.django_db
def test_the_asks_one_query_for_user_plan_and_usage_agrees_with_the_orms(django_assert_num_queries):
    # user_with_plan_usage writes the override rules and the counters out in SQL; user_plan's own
    # query and users_annotate_plan_usage are the ORM's
    from django.contrib.auth import get_user_model

    from billing.models import PlanOverride
    from billing.selectors import users_annotate_plan_usage, users_plan_usage

    now = timezone.now()
    staff = UserFactory(is_staff=True)
    cases = {
        "nothing": ([], None),
        "subscription": ([], "basic"),
        "active override": ([{"plan": "basic_special"}], "basic"),
        "expired override": ([{"plan": "basic_special", "created_at": now - timedelta(days=1),
                               "expires_at": now - timedelta(minutes=1)}], "basic"),
        "ended override": ([{"plan": "basic_special", "created_at": now - timedelta(days=1),
                             "ended_at": now - timedelta(minutes=1), "ended_by": staff}], None),
        "future override": ([{"plan": "basic_special", "created_at": now + timedelta(hours=1)}], None),
        "newest override": ([{"plan": "basic", "created_at": now - timedelta(days=2)},
                             {"plan": "basic_special", "created_at": now - timedelta(days=1)}], "free"),
    }  # fmt: skip
    expected = {"nothing": "free", "subscription": "basic", "active override": "basic_special",
                "expired override": "basic", "ended override": "free", "future override": "free",
                "newest override": "basic_special"}  # fmt: skip
    (week, _), (month, _) = period_bounds("week"), period_bounds("month")
    for used, (name, (overrides, subscription)) in enumerate(cases.items()):
        user = UserFactory()
        if subscription:
            set_plan(user, subscription)
        for override in overrides:
            PlanOverride.objects.create(user=user, note=name, created_by=staff, **override)
        # this period's counters (a different count each), and last week's, which must not count
        UsageCounter.objects.create(user=user, period="week", period_start=week, used=used)
        UsageCounter.objects.create(user=user, period="month", period_start=month, used=2 * used + 1)
        UsageCounter.objects.create(user=user, period="week", period_start=week - timedelta(days=7), used=99)
        with django_assert_num_queries(1):
            read = user_with_plan_usage(user_id=user.pk)
        assert (name, user_plan(user=read).name) == (name, expected[name])
        assert user_plan(user=user).name == expected[name]  # the ORM's own query
        annotated = users_annotate_plan_usage(get_user_model().objects.filter(pk=user.pk)).get()
        assert (name, users_plan_usage(read)) == (name, users_plan_usage(annotated))
    no_counters = UserFactory()
    assert users_plan_usage(user_with_plan_usage(user_id=no_counters.pk))["remaining"] == 30
    assert user_with_plan_usage(user_id=10**9) is None


@pytest.mark.django_db(transaction=True)
def test_the_quotas_user_query_stays_prepared_through_a_migration_adding_a_column():
    # DB_PREPARED_STATEMENTS: after 5 runs on a connection psycopg prepares the statement. A prepared
    # SELECT u.* fails once the table gains a column ("cached plan must not change result type"), as it
    # would for every question on every pooled connection while a deploy migrates.
    from django.db import connections

    user = UserFactory()
    for _ in range(6):
        user_with_plan_usage(user_id=user.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%plan_override_name%%'")
        assert cursor.fetchone()[0] == 1
    migrating = connections.create_connection("default")
    try:
        with migrating.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_user ADD COLUMN added_by_a_deploy integer")
        read = user_with_plan_usage(user_id=user.pk)
    finally:
        with migrating.cursor() as cursor:
            cursor.execute("ALTER TABLE accounts_user DROP COLUMN IF EXISTS added_by_a_deploy")
        migrating.close()
    assert (read.pk, user_plan(user=read).name) == (user.pk, "free")
