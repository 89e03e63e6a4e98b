"""Bulk-load guides, patch notes, FAQs and video subtitles into the knowledge base."""

import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from knowledge import services
from knowledge.ingestion import SourceError, collect_files, read_file
from knowledge.models import Document, Game


class Progress:
    """A one-line bar on a terminal; elsewhere (logs, CI) one line per step so nothing is overwritten."""

    def __init__(self, stream, total: int, label: str):
        self.stream, self.total, self.label = stream, total, label
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def update(self, done: int, note: str = "") -> None:
        if not self.total:
            return
        width = 30
        filled = int(width * done / self.total)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {note}"
        if self.tty:
            self.stream.write(f"\r{line[:120]:<120}")
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Ingest .md .txt .html .srt .vtt and .jsonl files (or directories of them) into a game's knowledge base. "
        "Unchanged content is left alone; changed content replaces its chunks atomically once re-embedded."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--game", required=True, help="the game's slug")
        parser.add_argument("--category", help="category of every document (a jsonl line may give its own)")
        parser.add_argument("--tags", default="", help="comma-separated tags (a jsonl line may give its own)")
        parser.add_argument(
            "--source-kind",
            choices=Document.SourceKind.values,
            help="guide, patch_note, video_subtitles or faq (default: guide; subtitles for .srt/.vtt)",
        )
        parser.add_argument("--language", choices=["ko", "en"], help="default: detected from the text")
        parser.add_argument(
            "--status",
            choices=Document.Status.values,
            default=Document.Status.PUBLISHED,
            help="status of new documents (existing ones keep theirs)",
        )
        parser.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
        parser.add_argument("--sync", action="store_true", help="summarise and embed here instead of in Celery")

    def handle(self, *args, **options):
        started = time.monotonic()
        game = Game.objects.filter(slug=options["game"]).first()
        if game is None:
            known = ", ".join(Game.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"unknown game '{options['game']}' (known: {known}); create it in the admin first")
        tags = [t.strip() for t in options["tags"].split(",") if t.strip()]
        files, errors = collect_files(options["paths"])
        counts = {"new": 0, "changed": 0, "unchanged": 0, "failed": len(errors)}
        totals = {"chunks": 0, "tokens": 0, "summarized": 0}
        for error in errors:
            self.stderr.write(f"error: {error}")

        progress = Progress(self.stderr if not options["dry_run"] else self.stdout, len(files), "ingest")
        for done, path in enumerate(files, start=1):
            result = read_file(path)
            for error in result.errors:
                errors.append(error)
                counts["failed"] += 1
                self.stderr.write(f"error: {error}")
            for item in result.documents:
                category = item.category or options["category"]
                if not category:
                    errors.append(SourceError(item.where, "no category: pass --category or give one in the line"))
                    counts["failed"] += 1
                    self.stderr.write(f"error: {errors[-1]}")
                    continue
                source_kind = options["source_kind"] or item.source_kind or Document.SourceKind.GUIDE
                try:
                    outcome = services.document_ingest(
                        game=game,
                        source_key=item.source_key,
                        title=item.title,
                        content=item.content,
                        category=category,
                        tags=item.tags if item.tags is not None else tags,
                        source_kind=source_kind,
                        content_format=item.content_format,
                        language=item.language or options["language"],
                        source_url=item.source_url,
                        status=options["status"],
                        dry_run=options["dry_run"],
                        sync=options["sync"],
                    )
                except ValidationError as exc:
                    message = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
                    errors.append(SourceError(item.where, f"invalid document ({message})"))
                    counts["failed"] += 1
                    self.stderr.write(f"error: {errors[-1]}")
                    continue
                except Exception as exc:  # embedding or summarising failed (--sync): report it, go on
                    errors.append(SourceError(item.where, f"indexing failed: {type(exc).__name__}: {exc}"))
                    counts["failed"] += 1
                    self.stderr.write(f"error: {errors[-1]}")
                    continue
                counts[outcome.outcome] += 1
                totals["chunks"] += outcome.chunks
                totals["tokens"] += outcome.tokens
                totals["summarized"] += outcome.summarized
            progress.update(done, path.name)

        seeded = None
        if not options["dry_run"] and (counts["new"] or counts["changed"]):
            seeded = services.glossary_seed(game=game)
        self._summary(counts, totals, seeded, options, time.monotonic() - started)
        if errors:
            raise CommandError(f"{len(errors)} source(s) failed (listed above); the others were ingested")

    def _summary(self, counts, totals, seeded, options, seconds):
        prefix = "dry run, nothing written: " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}documents: {counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged, "
            f"{counts['failed']} failed; chunks: {totals['chunks']} ({totals['tokens']} tokens, "
            f"{totals['summarized']} summarised); time: {seconds:.1f} s"
        )
        if seeded is not None:
            self.stdout.write(f"glossary: {seeded.created} new term(s)")
        if not options["dry_run"] and not options["sync"] and (counts["new"] or counts["changed"]):
            self.stdout.write("embedding runs in the background (Celery); progress shows on each document in the admin")
        sys.stdout.flush()
