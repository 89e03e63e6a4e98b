"""Create or update a game (slug, Korean and English names, the categories players pick from), or list them."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from knowledge.models import Game
from knowledge.services.games import game_create_or_update


class Command(BaseCommand):
    help = (
        "manage.py game SLUG --ko '엘든 링' --en 'Elden Ring' [--categories boss,build]: create the game, or update "
        "an existing one (names given replace the old ones; categories are added after the game's own). "
        "Without SLUG: list the games."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="lowercase letters, digits and hyphens, e.g. elden-ring")
        parser.add_argument("--ko", dest="name_ko", help="the Korean name players see")
        parser.add_argument("--en", dest="name_en", help="the English name players see")
        parser.add_argument("--categories", default="", help="comma-separated, in the order players should see them")

    def handle(self, *args, slug=None, name_ko=None, name_en=None, categories="", **options):
        if slug is None:
            for game in Game.objects.order_by("slug"):
                self.stdout.write(self._describe(game))
            return
        existing = Game.objects.filter(slug=slug).first()
        name_ko = (name_ko or (existing.name_ko if existing else "")).strip()
        name_en = (name_en or (existing.name_en if existing else "")).strip()
        if not name_ko or not name_en:
            raise CommandError(
                f"a new game needs both names: manage.py game {slug} --ko '<한국어 이름>' --en '<English name>'"
            )
        wanted = [category.strip() for category in categories.split(",") if category.strip()]
        try:
            game = game_create_or_update(slug=slug, name_ko=name_ko, name_en=name_en, categories=wanted)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            raise CommandError(f"game '{slug}' not saved: {problems}") from None
        self.stdout.write(("updated " if existing else "created ") + self._describe(game))

    @staticmethod
    def _describe(game: Game) -> str:
        categories = ", ".join(game.categories) or "none yet"
        return f"{game.slug}: {game.name_ko} / {game.name_en}; categories: {categories}"
