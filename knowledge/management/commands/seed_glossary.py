"""Seed each game's glossary (the semantic cache's entity names) from its published documents."""

from django.core.management.base import BaseCommand, CommandError

from knowledge.models import Game
from knowledge.services.glossary import glossary_seed


class Command(BaseCommand):
    help = "Add recurring names from published documents to the games' glossaries (staff curate them in the admin)."

    def add_arguments(self, parser):
        parser.add_argument("--game", help="only this game")

    def handle(self, *args, **options):
        games = Game.objects.all()
        if options["game"]:
            games = games.filter(slug=options["game"])
            if not games.exists():
                raise CommandError(f"unknown game '{options['game']}'")
        for game in games:
            result = glossary_seed(game=game)
            self.stdout.write(
                f"{game.slug}: {result.created} new, {result.updated} updated, {len(result.candidates)} candidates"
            )
