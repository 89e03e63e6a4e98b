"""Create the staff group with the content curation permissions, or set them back (accounts/staff.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.staff import staff_group_ensure


class Command(BaseCommand):
    help = (
        "Create the group a Google sign-in puts new staff in (STAFF_GOOGLE_GROUP) with the content curation "
        "permissions, and list what it may do. An existing group keeps its permissions unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", help="the group's name (default: STAFF_GOOGLE_GROUP)")
        parser.add_argument("--reset", action="store_true", help="set its permissions back to the defaults")

    def handle(self, *args, name=None, reset=False, **options):
        name = name if name is not None else settings.STAFF_GOOGLE_GROUP
        if not name:
            raise CommandError("No group: STAFF_GOOGLE_GROUP is empty and no --name was given.")
        try:
            group, permissions_set = staff_group_ensure(name=name, reset=reset)
        except LookupError as error:
            raise CommandError(str(error)) from error
        state = "permissions set" if permissions_set else "exists, permissions left as they are (--reset to set them)"
        self.stdout.write(f"group {group.name!r}: {state}")
        permissions = group.permissions.select_related("content_type")
        for permission in permissions.order_by("content_type__app_label", "codename"):
            self.stdout.write(f"  {permission.content_type.app_label}.{permission.codename}")
