"""Bulk-load guides, patch notes, FAQs and video subtitles (folders of them, with a manifest) into the knowledge."""

import sys
import time
from collections import Counter

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from knowledge.ingestion.library import Defaults, library_read
from knowledge.ingestion.manifest import ManifestError, manifest_load
from knowledge.ingestion.sources import SourceError
from knowledge.models import Document, Game
from knowledge.services.documents import document_ingest
from knowledge.services.games import game_create_or_update
from knowledge.services.glossary import glossary_seed


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


class _DryRunDone(Exception):
    """Leaves the dry run's transaction (games it would create) rolled back."""


class Command(BaseCommand):
    help = (
        "Ingest .md .txt .html .srt .vtt and .jsonl files, or folders of them (recursively), into the knowledge "
        "base: each document's game, category, tags, language, title and URL from its jsonl line, else the "
        "--manifest, else the options. Unchanged content is left alone; changed content replaces its chunks "
        "atomically once re-embedded. The README's 'Content and operations' describes the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders read recursively")
        parser.add_argument(
            "--manifest",
            metavar="FILE",
            help='JSON or YAML: {"files": {"<path under the root>": {"game": ..., "category": ...}}, "games": [...]}',
        )
        parser.add_argument(
            "--root",
            metavar="DIR",
            help="the folder that documents' identities and the manifest's paths start from "
            "(default: the folder given; for a file given by itself, its own folder)",
        )
        parser.add_argument("--game", help="the game's slug, for documents the manifest or their line do not place")
        parser.add_argument("--category", help="category of documents the manifest or their line give none")
        parser.add_argument("--tags", default="", help="comma-separated tags (a manifest or line may give its own)")
        parser.add_argument(
            "--source-kind",
            choices=Document.SourceKind.values,
            help="guide, patch_note, video_subtitles or faq (default: guide; video_subtitles for .srt/.vtt)",
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
        manifest = None
        if options["manifest"]:
            try:
                manifest = manifest_load(options["manifest"])
            except ManifestError as exc:
                raise CommandError(f"the manifest cannot be used; nothing was ingested:\n{exc}") from None
        manifest_games = {spec["slug"]: spec for spec in manifest.games} if manifest else {}
        game = options["game"]
        if game and game not in manifest_games and not Game.objects.filter(slug=game).exists():
            known = ", ".join(Game.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(
                f"unknown game '{game}' (known: {known}); create it first: "
                f"manage.py game {game} --ko '<한국어 이름>' --en '<English name>'"
            )
        tags = [t.strip() for t in options["tags"].split(",") if t.strip()]
        defaults = Defaults(
            game=options["game"],
            category=options["category"],
            tags=tags,
            language=options["language"],
            source_kind=options["source_kind"],
        )
        library = library_read(options["paths"], manifest=manifest, root=options["root"], defaults=defaults)
        for error in library.all_errors:
            self.stderr.write(f"error: {error}")
        used = library.game_counts()
        if len(used) > 1 and manifest is None and not options["game"]:
            raise CommandError(
                f"these sources name {len(used)} games ({_per_game(used)}) and there is no --manifest or --game: "
                "a run places documents in several games only as a manifest or --game says; nothing was ingested"
            )
        if not options["dry_run"]:
            failure = self._ingest(library, self._games(used, manifest_games, dry_run=False), options, started)
        else:
            try:
                with transaction.atomic():  # the games a dry run would create, rolled back with it
                    games = self._games(used, manifest_games, dry_run=True)
                    failure = self._ingest(library, games, options, started)
                    raise _DryRunDone
            except _DryRunDone:
                pass
        if failure:
            raise CommandError(failure)

    def _games(self, used: Counter, manifest_games: dict, *, dry_run: bool) -> dict[str, Game]:
        """The games the documents go to; the manifest's missing ones created; any other missing one
        stops the run before anything is written."""
        games = {game.slug: game for game in Game.objects.filter(slug__in=[*used, *manifest_games])}
        for slug, spec in manifest_games.items():
            if slug not in games:
                try:
                    games[slug] = game_create_or_update(**spec)
                except ValidationError as exc:
                    raise CommandError(f"the manifest's game '{slug}' is invalid: {_messages(exc)}") from None
                verb = "would create" if dry_run else "created"
                self.stdout.write(f"{verb} game {slug} ({spec['name_ko']} / {spec['name_en']})")
        missing = {slug: count for slug, count in used.items() if slug not in games}
        if missing:
            how = "\n".join(f"  manage.py game {slug} --ko '<한국어 이름>' --en '<English name>'" for slug in missing)
            raise CommandError(
                f"unknown game(s): {_per_game(missing)}; nothing was ingested. Create them first:\n{how}\n"
                'or list them in the manifest\'s "games" ([{"slug", "name_ko", "name_en", "categories"}]).'
            )
        return games

    def _ingest(self, library, games: dict[str, Game], options: dict, started: float) -> str | None:
        """Ingest every document read; the failure to report (the command exits non-zero), if any."""
        dry_run = options["dry_run"]
        failures = len(library.all_errors)
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        per_game: dict[str, Counter] = {}
        totals = {"chunks": 0, "tokens": 0, "summarized": 0}
        progress = Progress(self.stdout if dry_run else self.stderr, len(library.files), "ingest")
        for done, file in enumerate(library.files, start=1):
            for item in file.documents:
                try:
                    outcome = document_ingest(
                        game=games[item.game],
                        **item.ingest_fields(),
                        former_source_key=item.former_source_key,
                        status=options["status"],
                        dry_run=dry_run,
                        sync=options["sync"],
                    )
                except ValidationError as exc:
                    failures += 1
                    self.stderr.write(f"error: {SourceError(item.where, f'invalid document ({_messages(exc)})')}")
                    continue
                except Exception as exc:  # embedding or summarising failed (--sync): report it, go on
                    failures += 1
                    self.stderr.write(f"error: {item.where}: indexing failed: {type(exc).__name__}: {exc}")
                    continue
                counts[outcome.outcome] += 1
                per_game.setdefault(item.game, Counter())[outcome.outcome] += 1
                totals["chunks"] += outcome.chunks
                totals["tokens"] += outcome.tokens
                totals["summarized"] += outcome.summarized
            progress.update(done, file.source.relative)

        seeded = {}
        if not dry_run:
            for slug, outcomes in per_game.items():
                if outcomes["new"] or outcomes["changed"]:
                    seeded[slug] = glossary_seed(game=games[slug]).created
        self._summary(counts, failures, totals, per_game, seeded, options, time.monotonic() - started)
        if failures:
            written = counts["new"] + counts["changed"]
            if dry_run:
                others = f"dry run: the others would ingest {written} document(s); nothing was written"
            elif written:
                others = f"{written} other document(s) were ingested"
            else:
                others = "no document was added or changed"
            return f"{failures} source(s) failed (listed above); {others}"
        return None

    def _summary(self, counts, failures, totals, per_game, seeded, options, seconds):
        chunks = (
            f"chunks: {totals['chunks']} ({totals['tokens']} tokens, {totals['summarized']} summarised); "
            f"time: {seconds:.1f} s"
        )
        if options["dry_run"]:
            self.stdout.write(
                f"dry run, nothing written: would ingest {counts['new'] + counts['changed']} document(s) "
                f"({counts['new']} new, {counts['changed']} changed); {counts['unchanged']} unchanged, "
                f"{failures} failed; {chunks}"
            )
        else:
            self.stdout.write(
                f"documents: {counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged, "
                f"{failures} failed; {chunks}"
            )
        if len(per_game) > 1:
            for slug, outcomes in sorted(per_game.items()):
                self.stdout.write(
                    f"  {slug}: {outcomes['new']} new, {outcomes['changed']} changed, {outcomes['unchanged']} unchanged"
                )
        for slug, created in sorted(seeded.items()):
            self.stdout.write(f"glossary: {created} new term(s)" + (f" ({slug})" if len(seeded) > 1 else ""))
        if not options["dry_run"] and not options["sync"] and (counts["new"] or counts["changed"]):
            self.stdout.write("embedding runs in the background (Celery); progress shows on each document in the admin")
        sys.stdout.flush()


def _per_game(counts) -> str:
    return ", ".join(f"{slug}: {count} document(s)" for slug, count in sorted(counts.items()))


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
