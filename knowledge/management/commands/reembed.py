"""Re-embed chunks after the embedding model changes (or everything, with --all)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ai.embeddings import get_embedder
from knowledge.models import Game
from knowledge.services.documents import documents_reembed_stale
from knowledge.services.indexing import embedding_column_dimensions


class Command(BaseCommand):
    help = (
        "Re-embed the chunks not embedded by the configured model (EMBEDDING_MODEL / offline), per document; "
        "documents keep answering meanwhile, each chunk switching model as it is re-embedded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--game", help="only this game's documents")
        parser.add_argument("--all", action="store_true", help="re-embed every document, stale or not")
        parser.add_argument("--sync", action="store_true", help="embed here instead of in Celery")

    def handle(self, *args, **options):
        column = embedding_column_dimensions()
        if column is not None and column != settings.EMBEDDING_DIM:
            raise CommandError(
                f"EMBEDDING_DIM is {settings.EMBEDDING_DIM} but knowledge_chunk.embedding holds halfvec({column}): "
                "a dimension change needs a migration first (makemigrations knowledge, clearing the old vectors)"
            )
        game = None
        if options["game"]:
            game = Game.objects.filter(slug=options["game"]).first()
            if game is None:
                raise CommandError(f"unknown game '{options['game']}'")
        count = documents_reembed_stale(game=game, everything=options["all"], sync=options["sync"])
        where = "here" if options["sync"] else "in the background (Celery)"
        self.stdout.write(f"{count} document(s) re-embedded {where} with {get_embedder().model_name}")
