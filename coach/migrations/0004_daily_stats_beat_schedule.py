"""Once created beat's entry for the daily statistics rollup; CoachConfig.beat_schedule does now (config.beat,
after every migrate), so this is kept only for the migration graph and a database that ran it keeps its entry."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("coach", "0003_ops_stats_and_feedback_review"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
