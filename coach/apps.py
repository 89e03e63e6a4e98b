from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoachConfig(AppConfig):
    name = "coach"
    verbose_name = _("Coach")
    # config.beat: created after every migrate when missing; an existing entry is left as staff set it.
    beat_schedule = {
        "coach: roll up finished days into DailyStat": (
            "coach.tasks.daily_stats_refresh",
            {"every": 10, "period": "minutes"},
        ),
    }

    def ready(self):
        from coach.services import cache  # noqa: F401 - registers the semantic-cache /readyz field
        from config.beat import beat_schedule_created

        post_migrate.connect(beat_schedule_created, sender=self, dispatch_uid="coach_beat_schedule")
