"""The admin's third-party pages: the ones staff don't need taken out, the rest named in the staff member's language.

Kept: Groups (what staff may do), Social accounts (which Google identity signs in to which account) and
beat's periodic tasks with their crontab and interval schedules (ours run on them and staff may pause one).
Taken out (docs/staff.md says why): Sites (nothing staff do reads it), allauth's email addresses (sign-ins
write them; editing one by hand would change which account a staff Google sign-in joins), social
applications (the staff Google client is configured in settings; a second one breaks the sign-in) and
social tokens (never stored), simplejwt's outstanding and blacklisted tokens (opaque ids; a player is cut
off by deactivating the account in Users), and beat's clocked and solar schedules (nothing uses them).
"""

from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy, gettext_noop

from .i18n import APPS as OUR_APPS

ADMIN_PAGES_REMOVED = (
    "sites.Site",
    "account.EmailAddress",
    "socialaccount.SocialApp",
    "socialaccount.SocialToken",
    "token_blacklist.OutstandingToken",
    "token_blacklist.BlacklistedToken",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.SolarSchedule",
)

# What the kept pages show that the packages' own Korean catalogues leave in English (django-celery-beat's
# "translates" its model names to themselves). Our catalogue comes first (LOCALE_PATHS), so these win.
THIRD_PARTY_LABELS = (
    gettext_noop("Periodic Tasks"),
    gettext_noop("periodic task"),
    gettext_noop("periodic tasks"),
    gettext_noop("crontab"),
    gettext_noop("crontabs"),
    gettext_noop("interval"),
    gettext_noop("intervals"),
    gettext_noop("clocked"),
    gettext_noop("solar event"),
    gettext_noop("solar events"),
    gettext_noop("Solar Event"),
    gettext_noop("Clock Time"),
    gettext_noop("Schedule"),
    gettext_noop("Arguments"),
    gettext_noop("Execution Options"),
    gettext_noop('task "{not_found_task_name}" not found'),
    gettext_noop("Interval Schedule"),
    gettext_noop("Crontab Schedule"),
    gettext_noop("Solar Schedule"),
    gettext_noop("Clocked Schedule"),
    gettext_noop("Positional Arguments"),
    gettext_noop("Keyword Arguments"),
    gettext_noop("Queue Override"),
    gettext_noop("Exchange"),
    gettext_noop("Routing Key"),
    gettext_noop("Priority"),
    gettext_noop("One-off Task"),
    gettext_noop('Cron Days Of The Week to Run. Use "*" for "all", Sunday is 0 or 7, Monday is 1. (Example: "0,5")'),
    gettext_noop('Cron Months (1-12) Of The Year to Run. Use "*" for "all". (Example: "1,12")'),
    gettext_noop("Task Name"),
    gettext_noop("Scheduler"),
    gettext_noop("user"),
    gettext_noop("ID"),
)


def third_party_admin_trim() -> None:
    """Unregister ADMIN_PAGES_REMOVED and name what stays (after the admin's autodiscover: the admin app is first)."""
    for label in ADMIN_PAGES_REMOVED:
        model = apps.get_model(label)
        if admin.site.is_registered(model):
            admin.site.unregister(model)
    for model in admin.site._registry:
        if model._meta.app_label in OUR_APPS:
            continue  # config.i18n names ours
        for field in model._meta.local_fields:
            # Plain strings in the packages (Django derives "user" from the attribute; beat's "Task Name").
            if isinstance(field.verbose_name, str):
                field.verbose_name = gettext_lazy(field.verbose_name)
    if apps.is_installed("django_celery_beat"):
        from django_celery_beat.models import PeriodicTask

        PeriodicTask.scheduler.fget.short_description = gettext_lazy("Scheduler")  # a list column, else "Scheduler"
