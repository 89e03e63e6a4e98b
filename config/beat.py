"""Beat's schedule in the database: each app declares its periodic tasks, created after every migrate when missing.

An app's AppConfig sets `beat_schedule` (name -> (task, when)) and connects beat_schedule_created to
post_migrate. An entry that exists is left as staff set it in the admin (disabled, rescheduled); one
deleted comes back on the next deploy, so staff disable rather than delete. post_migrate, not a data
migration: it also runs after a flush (`manage.py flush`, transactional tests), and a new entry needs
no migration.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

# when: {"crontab": "minute hour day_of_month month_of_year day_of_week"} in the service's time zone,
# or {"every": n, "period": "seconds" | "minutes" | "hours" | "days"}.
Schedule = dict[str, tuple[str, dict]]


def beat_schedule_ensure(schedule: Schedule, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create the entries of `schedule` that do not exist yet; returns the names created. Idempotent."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    for name, (task, when) in schedule.items():
        if PeriodicTask.objects.using(using).filter(name=name).exists():
            continue
        if "crontab" in when:
            minute, hour, day_of_month, month_of_year, day_of_week = when["crontab"].split()
            crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
                minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                day_of_week=day_of_week, timezone=ZoneInfo(settings.TIME_ZONE),
            )  # fmt: skip
            PeriodicTask.objects.using(using).create(name=name, task=task, crontab=crontab)
        else:
            interval, _ = IntervalSchedule.objects.using(using).get_or_create(
                every=when["every"], period=when["period"]
            )
            PeriodicTask.objects.using(using).create(name=name, task=task, interval=interval)
        created.append(name)
    return created


def beat_schedule_created(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: the sending app's `beat_schedule`."""
    beat_schedule_ensure(sender.beat_schedule, using=using)
