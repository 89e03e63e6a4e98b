"""Take the demo content (dev/demo) out of the knowledge base before real guides go in."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Delete the demo documents (and glossary terms only they gave), so they no longer answer next to real "
        "content. The games stay (real guides usually go into them) unless --games and nothing else is in them. "
        "Safe to re-run; `bin/run --no-demo` does not load the demo at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--games", action="store_true", help="also delete the demo games left with no document")

    def handle(self, *args, **options):
        from dev.demo.loader import demo_remove  # dev-only code, loaded by this command alone

        removed = demo_remove(games=options["games"])
        self.stdout.write(
            f"demo removed: {removed.documents} document(s), {removed.glossary_terms} glossary term(s)"
            + (f", game(s) {', '.join(removed.games)}" if removed.games else "")
        )
