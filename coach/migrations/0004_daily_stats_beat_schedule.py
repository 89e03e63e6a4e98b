"""Beat's schedule for the daily statistics rollup, so a fresh deploy has it without a manual step."""

from django.db import migrations

TASK_NAME = "coach: roll up finished days into DailyStat"
TASK = "coach.tasks.daily_stats_refresh"


def schedule_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    # get_or_create by name: staff may have changed or disabled it; a re-run leaves it as they set it.
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": TASK, "interval": every, "description": "coach/stats.py: DailyStat rollup"}
    )


def schedule_delete(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coach", "0003_ops_stats_and_feedback_review"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
