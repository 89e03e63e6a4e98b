"""Print an access token for the demo user, so the README's curl lines work without Google (DEBUG only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Print a JWT access token for the demo user (refused when DEBUG is off)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_token is for the embedded demo only and is refused when DEBUG is off.")
        user, _ = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"display_name": "Demo Player", "email": "demo@example.com"}
        )
        self.stdout.write(str(RefreshToken.for_user(user).access_token))
