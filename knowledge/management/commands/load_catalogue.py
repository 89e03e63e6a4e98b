"""Load the shipped entity catalogue (knowledge/catalogue/<game>.json) into the games' entities."""

from django.core.management.base import BaseCommand, CommandError

from knowledge.services.catalogue import CatalogueError, catalogue_games, catalogue_load


class Command(BaseCommand):
    help = (
        "Write the shipped catalogue of entity names (Korean, English, short forms) for every game that has one, "
        "or for --game; entities staff edited in the admin are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("--game", help="only this game")

    def handle(self, *args, **options):
        try:
            results = catalogue_load(game=options["game"])
        except CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        if not results:
            self.stdout.write(f"no game with a catalogue (catalogues: {', '.join(catalogue_games())})")
        for result in results:
            line = (
                f"{result.game}: {result.created} new, {result.updated} updated, {result.unchanged} unchanged, "
                f"{len(result.kept)} kept as staff edited them, {result.removed} removed"
            )
            self.stdout.write(line)
