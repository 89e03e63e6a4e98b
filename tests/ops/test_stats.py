"""The dashboard's arithmetic: days of the service time zone, empty days, exact money, rates, percentiles, rollups."""

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from coach.models import DailyStat, DailyStatRollup, QuestionLog
from coach.services.stats import daily_stat_rollup, daily_stats_refresh, quota_rejection_count
from coach.stats import stats_summary

from .conftest import log_at

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


def seoul(*args) -> datetime:
    return datetime(*args, tzinfo=SEOUL)


def test_a_question_at_2330_utc_counts_for_the_next_day_in_seoul():
    # given a question asked at 23:30 UTC on 1 March, which is 08:30 on 2 March in Seoul
    log_at(datetime(2025, 3, 1, 23, 30, tzinfo=UTC))

    # when staff look at 1-2 March in the service time zone (Asia/Seoul)
    days = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 2))["days"]

    # then it counts for 2 March
    assert [(day["date"], day["questions"]) for day in days] == [("2025-03-01", 0), ("2025-03-02", 1)]


@override_settings(TIME_ZONE="UTC")
def test_the_service_time_zone_setting_decides_the_day():
    log_at(datetime(2025, 3, 1, 23, 30, tzinfo=UTC))

    days = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 2))["days"]

    assert [(day["date"], day["questions"]) for day in days] == [("2025-03-01", 1), ("2025-03-02", 0)]


def test_seoul_midnight_is_the_boundary_between_two_days():
    # given questions one second either side of midnight in Seoul (15:00 UTC)
    log_at(seoul(2025, 3, 1, 23, 59, 59))
    log_at(seoul(2025, 3, 2, 0, 0, 0))

    days = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 2))["days"]

    assert [day["questions"] for day in days] == [1, 1]


def test_days_without_traffic_are_listed_with_zeros():
    # given traffic on the first and the fourth of five days
    log_at(seoul(2025, 3, 1, 12, 0))
    log_at(seoul(2025, 3, 4, 12, 0), cost_usd=Decimal("0.25"))

    summary = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 5))

    # then every day is there, the quiet ones with zeros and no rates or percentiles
    assert [day["date"] for day in summary["days"]] == [f"2025-03-0{n}" for n in range(1, 6)]
    assert [day["questions"] for day in summary["days"]] == [1, 0, 0, 1, 0]
    quiet = summary["days"][1]
    assert quiet["cost_usd"] == 0 and quiet["saved_usd"] == 0 and quiet["errors"] == 0
    assert quiet["exact_hit_rate"] is None and quiet["latency_p50_ms"] is None and quiet["cost_by_model"] == {}
    assert summary["totals"]["cost_usd"] == Decimal("0.25100000")


def test_cost_savings_hit_rates_and_errors_add_up_exactly():
    noon = seoul(2025, 3, 1, 12, 0)
    # given three LLM answers on two models, one exact hit, two semantic hits and one timeout
    log_at(noon, cost_usd=Decimal("0.00225"), prompt_tokens=1000, completion_tokens=3500)
    log_at(noon, cost_usd=Decimal("0.00110000"), model="o4-mini", plan="basic_special", game="league-of-legends")
    log_at(noon, cost_usd=Decimal("0.00000001"))
    log_at(noon, cache="exact", cost_usd=0, saved_usd=Decimal("0.00225"), latency_ms=5)
    log_at(noon, cache="semantic", cost_usd=0, saved_usd=Decimal("0.0011"), latency_ms=80)
    log_at(noon, cache="semantic", cost_usd=0, saved_usd=Decimal("0.0011"), latency_ms=90)
    log_at(noon, error_code="ai_timeout", answer="", cost_usd=0, latency_ms=60_000)

    summary = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 1))
    totals = summary["totals"]

    # then money is exact to the 8th decimal
    assert totals["cost_usd"] == Decimal("0.00335001")
    assert totals["saved_usd"] == Decimal("0.00445000")
    # and rates are over the six answered asks
    assert (totals["questions"], totals["answered"], totals["errors"]) == (7, 6, 1)
    assert (totals["exact_hits"], totals["semantic_hits"]) == (1, 2)
    assert totals["exact_hit_rate"] == round(1 / 6, 4)
    assert totals["semantic_hit_rate"] == round(2 / 6, 4)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (1000, 3500)
    assert summary["cost_by_model"] == [
        {"model": "gpt-4o-mini", "questions": 6, "cost_usd": Decimal("0.00225001")},
        {"model": "o4-mini", "questions": 1, "cost_usd": Decimal("0.00110000")},
    ]
    assert summary["days"][0]["cost_by_model"] == {"gpt-4o-mini": Decimal("0.00225001"), "o4-mini": Decimal("0.0011")}
    assert summary["errors_by_code"] == [{"code": "ai_timeout", "count": 1}]
    assert [(row["game"], row["questions"]) for row in summary["top_games"]] == [
        ("elden-ring", 6),
        ("league-of-legends", 1),
    ]
    # the timeout's 60 s is not an answer's latency
    assert totals["latency_p95_ms"] < 2000


def test_latency_percentiles_are_within_five_percent_of_the_exact_ones():
    rng = random.Random(7)
    latencies = [int(rng.lognormvariate(7.2, 0.6)) for _ in range(400)]
    QuestionLog.objects.bulk_create(QuestionLog(game="elden-ring", question="q", latency_ms=ms) for ms in latencies)
    QuestionLog.objects.update(created_at=seoul(2025, 3, 1, 12, 0))

    totals = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 1))["totals"]

    ordered = sorted(latencies)
    for q, key in ((0.50, "latency_p50_ms"), (0.95, "latency_p95_ms")):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(totals[key] - exact) <= exact * 0.05, (key, totals[key], exact)


def test_the_game_filter_narrows_everything_but_quota_rejections():
    log_at(seoul(2025, 3, 1, 12, 0), game="elden-ring", cost_usd=Decimal("0.5"))
    log_at(seoul(2025, 3, 1, 12, 0), game="valorant", cost_usd=Decimal("0.25"))
    quota_rejection_count(plan="free", at=seoul(2025, 3, 1, 9, 0))

    summary = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 1), game="valorant")

    assert summary["totals"]["questions"] == 1
    assert summary["totals"]["cost_usd"] == Decimal("0.25")
    assert [row["game"] for row in summary["top_games"]] == ["valorant"]
    assert summary["totals"]["quota_rejections"] == 1


def test_quota_rejections_are_counted_per_plan_and_service_day():
    # given rejections, one of them at 23:30 UTC (the next morning in Seoul)
    quota_rejection_count(plan="free", at=seoul(2025, 3, 1, 10, 0))
    quota_rejection_count(plan="free", at=seoul(2025, 3, 1, 11, 0))
    quota_rejection_count(plan="basic", at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC))

    summary = stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 2))

    assert summary["quota_rejections_by_plan"] == [{"plan": "free", "count": 2}, {"plan": "basic", "count": 1}]
    assert [day["quota_rejections"] for day in summary["days"]] == [{"free": 2}, {"basic": 1}]
    assert summary["totals"]["quota_rejections"] == 3


def _traffic_over_three_days():
    rng = random.Random(3)
    for day in (1, 2, 3):
        for n in range(40):
            log_at(
                seoul(2025, 3, day, rng.randrange(24), rng.randrange(60)),
                game=rng.choice(["elden-ring", "league-of-legends", "valorant"]),
                plan=rng.choice(["free", "basic"]),
                model=rng.choice(["gpt-4o-mini", "o4-mini"]),
                cache=rng.choice(["none", "none", "exact", "semantic"]),
                cost_usd=Decimal(rng.randrange(1, 500_000)) / Decimal(100_000_000),
                saved_usd=Decimal(rng.randrange(0, 9000)) / Decimal(100_000_000),
                latency_ms=rng.randrange(3, 20_000),
                error_code="ai_unavailable" if n % 13 == 0 else "",
                prompt_tokens=rng.randrange(2000),
            )


def test_rolled_up_days_give_the_same_figures_as_the_logs():
    # given three days of traffic, summed from the logs
    _traffic_over_three_days()
    before = stats_summary(date_from=date(2025, 2, 28), date_to=date(2025, 3, 4))

    # when beat rolls the finished days up, and the old logs are then purged
    rolled = daily_stats_refresh(now=seoul(2025, 3, 5, 1, 0))
    assert rolled == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4)]
    assert DailyStatRollup.objects.filter(final=True).count() == 4
    QuestionLog.objects.filter(created_at__lt=seoul(2025, 3, 4)).delete()

    # then the figures are the same, read from the rollup
    after = stats_summary(date_from=date(2025, 2, 28), date_to=date(2025, 3, 4))
    assert after == before
    assert after["totals"]["questions"] == 120


def test_refresh_waits_for_the_grace_after_midnight_and_is_safe_to_run_twice():
    log_at(seoul(2025, 3, 1, 23, 59))
    log_at(seoul(2025, 3, 2, 0, 1))

    # at 00:03 on 2 March, a late row of 1 March might still be on its way
    assert daily_stats_refresh(now=seoul(2025, 3, 2, 0, 3)) == []
    # at 00:10 the day is over
    assert daily_stats_refresh(now=seoul(2025, 3, 2, 0, 10)) == [date(2025, 3, 1)]
    assert daily_stats_refresh(now=seoul(2025, 3, 2, 0, 20)) == []
    assert list(DailyStat.objects.values_list("day", "questions")) == [(date(2025, 3, 1), 1)]


def test_a_day_rolled_up_before_it_ended_is_still_read_from_the_logs():
    # given a rollup of 1 March taken at noon that day
    log_at(seoul(2025, 3, 1, 9, 0))
    daily_stat_rollup(day=date(2025, 3, 1), now=seoul(2025, 3, 1, 12, 0))
    assert not DailyStatRollup.objects.get(day=date(2025, 3, 1)).final

    # when more questions come that afternoon
    log_at(seoul(2025, 3, 1, 15, 0))

    # then they count
    assert stats_summary(date_from=date(2025, 3, 1), date_to=date(2025, 3, 1))["totals"]["questions"] == 2


def test_a_fresh_deploy_has_the_rollup_in_beats_schedule():
    task = PeriodicTask.objects.get(task="coach.tasks.daily_stats_refresh")
    assert task.enabled
    assert task.interval.every == 10 and task.interval.period == "minutes"


def test_a_long_history_is_rolled_up_in_batches_oldest_first():
    start = date(2025, 1, 1)
    for n in range(40):
        log_at(seoul(2025, 1, 1, 12) + timedelta(days=n))

    first = daily_stats_refresh(now=seoul(2025, 2, 10, 1, 0), max_days=31)
    second = daily_stats_refresh(now=seoul(2025, 2, 10, 1, 0), max_days=31)

    assert first == [start + timedelta(days=n) for n in range(31)]
    assert second == [start + timedelta(days=n) for n in range(31, 40)]
