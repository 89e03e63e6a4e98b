"""Load the embedded demo: an admin login, the demo player, and each app's demo content (DEBUG only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User


class Command(BaseCommand):
    help = "Create the demo admin (admin/admin), the demo user and the demo content. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-knowledge",
            action="store_true",
            help="logins only: no demo games or documents (bin/run --no-demo)",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup is for the embedded demo only and is refused when DEBUG is off.")
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
        User.objects.get_or_create(username="demo", defaults={"display_name": "Demo Player"})
        if options["no_knowledge"]:
            self.stdout.write(
                "demo logins ready; no demo knowledge loaded (manage.py demo_remove takes out any loaded before)"
            )
            return
        from dev.demo.loader import demo_load

        knowledge = demo_load()
        self.stdout.write(f"demo knowledge: {knowledge['new']} new, {knowledge['changed']} changed, "
                          f"{knowledge['unchanged']} unchanged documents")  # fmt: skip
        self.stdout.write("demo data ready")
