"""Celery tasks of the coach."""

from celery import shared_task

from coach.services.stats import daily_stats_refresh as _daily_stats_refresh


@shared_task(name="coach.tasks.daily_stats_refresh")
def daily_stats_refresh() -> list[str]:
    """Beat, every 10 minutes (CoachConfig.beat_schedule): roll finished days up into DailyStat. Safe to run twice."""
    return [day.isoformat() for day in _daily_stats_refresh()]
