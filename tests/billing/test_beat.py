"""The beat schedule (present after migrate), period rollover and cleanup, and lapsed subscriptions."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing.apps import BillingConfig
from billing.models import CallRecord, Subscription, UsageCounter
from billing.periods import period_bounds
from billing.selectors import user_plan
from billing.services import quota_reserve
from billing.services.maintenance import quota_periods_rollover, subscriptions_refresh_lapsed
from billing.tasks import quota_periods_rollover as rollover_task
from config.beat import beat_schedule_ensure
from tests.billing.states import expired, subscribed

pytestmark = pytest.mark.django_db


def test_the_schedule_exists_after_migrate_without_anyone_clicking_in_the_admin():
    # the test database was built by migrate, as a fresh deploy is
    tasks = {task.name: task for task in PeriodicTask.objects.filter(name__startswith="billing:")}
    assert set(tasks) == set(BillingConfig.beat_schedule)
    rollover = tasks["billing: quota period rollover and cleanup"]
    assert rollover.task == "billing.tasks.quota_periods_rollover"
    assert (rollover.crontab.minute, rollover.crontab.hour) == ("0", "0")
    assert str(rollover.crontab.timezone) == "Asia/Seoul"
    assert tasks["billing: re-queue pending RevenueCat events"].interval.every == 300
    assert all(task.enabled for task in tasks.values())


def test_running_migrate_again_changes_nothing_and_keeps_staff_changes():
    PeriodicTask.objects.filter(name="billing: re-read lapsed subscriptions").update(enabled=False)
    before = PeriodicTask.objects.count()
    call_command("migrate", verbosity=0)
    assert beat_schedule_ensure(BillingConfig.beat_schedule) == []
    assert PeriodicTask.objects.count() == before
    assert PeriodicTask.objects.get(name="billing: re-read lapsed subscriptions").enabled is False


def test_a_deleted_entry_comes_back_on_the_next_deploy():
    PeriodicTask.objects.filter(name="billing: quota period rollover and cleanup").delete()
    assert beat_schedule_ensure(BillingConfig.beat_schedule) == ["billing: quota period rollover and cleanup"]


def test_the_rollover_drops_only_rows_past_retention_and_is_idempotent(user, settings):
    settings.BILLING_USAGE_RETENTION_DAYS = 60
    this_week = period_bounds("week")[0]
    UsageCounter.objects.create(user=user, period="week", period_start=this_week - timedelta(days=70), used=30)
    UsageCounter.objects.create(user=user, period="week", period_start=this_week - timedelta(days=7), used=12)
    CallRecord.objects.create(user=user, plan="free", week_start=this_week, month_start=this_week,
                              created_at=timezone.now() - timedelta(days=61))  # fmt: skip
    quota_reserve(user=user)
    first = rollover_task()
    assert first == {"counters_deleted": 1, "call_records_deleted": 1}
    assert rollover_task() == {"counters_deleted": 0, "call_records_deleted": 0}
    assert set(UsageCounter.objects.values_list("period_start", "used")) >= {(this_week - timedelta(days=7), 12),
                                                                            (this_week, 1)}  # fmt: skip


def test_missed_runs_catch_up_in_one_run(user, settings):
    settings.BILLING_USAGE_RETENTION_DAYS = 30
    this_week = period_bounds("week")[0]
    for weeks_ago in range(5, 20):  # months of runs that never happened
        UsageCounter.objects.create(user=user, period="week", period_start=this_week - timedelta(weeks=weeks_ago))
    assert quota_periods_rollover()["counters_deleted"] == 15
    assert not UsageCounter.objects.exists()


def test_a_paid_plan_past_its_expiry_is_re_read_when_expiration_never_came(revenuecat, user):
    expired(revenuecat, str(user.public_id))
    Subscription.objects.create(user=user, plan="basic", expires_at=timezone.now() - timedelta(hours=3))
    assert subscriptions_refresh_lapsed() == 1
    assert user_plan(user=user).name == "free"
    assert subscriptions_refresh_lapsed() == 0


def test_a_subscription_renewed_late_is_kept_when_re_read(revenuecat, user):
    subscribed(revenuecat, str(user.public_id))
    Subscription.objects.create(user=user, plan="basic", expires_at=timezone.now() - timedelta(hours=3))
    subscriptions_refresh_lapsed()
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).expires_at > timezone.now()
