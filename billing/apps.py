from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _beat_schedule(sender, using="default", **kwargs):
    from billing.services.maintenance import beat_schedule_ensure

    beat_schedule_ensure()


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self):
        from billing import checks  # noqa: F401 - registers the system checks

        # The beat schedule exists on a fresh deploy without anyone clicking in the admin.
        post_migrate.connect(_beat_schedule, sender=self, dispatch_uid="billing_beat_schedule")
