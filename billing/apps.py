from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
    # config.beat: created after every migrate when missing; an existing entry is left as staff set it.
    beat_schedule = {
        "billing: quota period rollover and cleanup": (
            "billing.tasks.quota_periods_rollover",
            {"crontab": "0 0 * * *"},
        ),
        "billing: re-queue pending RevenueCat events": (
            "billing.tasks.webhook_events_requeue",
            {"every": 300, "period": "seconds"},
        ),
        "billing: re-read lapsed subscriptions": (
            "billing.tasks.subscriptions_refresh_lapsed",
            {"every": 3600, "period": "seconds"},
        ),
    }

    def ready(self):
        from billing import checks  # noqa: F401 - registers the system checks
        from config.beat import beat_schedule_created

        post_migrate.connect(beat_schedule_created, sender=self, dispatch_uid="billing_beat_schedule")
