"""Benchmark 5: ingestion throughput, chunks per second through `manage.py ingest --sync`.

Generates guides of about ten chunks each (Korean and English sentences about bosses, builds and
patches; paragraphs short enough that none needs an LLM summary), writes them as .md files, and
ingests the directory with the real management command, once per embedder: the offline one (no
key) and the OpenAI one pointed at the local OpenAI-compatible server (batched requests of
EMBEDDING_BATCH_SIZE texts). Each run goes into its own game, so nothing is "unchanged". Runs in
a process where bench/stack.py has set up Django against the benchmark's own databases.
"""

from __future__ import annotations

import io
import random
import tempfile
import time
from pathlib import Path

# fmt: off
WORDS_EN = [
    "boss", "phase", "dodge", "roll", "parry", "bleed", "frost", "build", "stat", "vigor", "weapon",
    "talisman", "jungle", "path", "gank", "clear", "camp", "dragon", "baron", "patch", "nerf", "buff",
    "item", "rune", "armor", "poise", "stamina", "combo", "punish", "window", "timing", "spacing", "range",
    "cooldown", "ultimate", "objective", "lane", "wave", "tempo",
]
WORDS_KO = [
    "보스", "페이즈", "회피", "구르기", "패링", "출혈", "냉기", "빌드", "스탯", "생명력",
    "무기", "탈리스만", "정글", "동선", "갱킹", "캠프", "드래곤", "바론", "패치", "너프",
    "버프", "아이템", "룬", "방어구", "강인도", "스태미나", "콤보", "반격", "타이밍", "거리",
    "사거리", "쿨타임", "궁극기", "오브젝트", "라인", "웨이브", "템포",
]
# fmt: on


def _paragraph(rng: random.Random) -> str:
    korean = rng.random() < 0.5
    words = WORDS_KO if korean else WORDS_EN
    sentences = []
    for _ in range(rng.randint(3, 5)):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 14)))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)


def corpus_write(directory: Path, *, chunks: int, seed: int = 7) -> int:
    """Markdown guides that chunk into about `chunks` chunks (about 10 each); returns the file count."""
    rng = random.Random(seed)
    files = max(1, chunks // 10)
    for n in range(files):
        paragraphs = [f"# Guide {n}: {rng.choice(WORDS_EN)} and {rng.choice(WORDS_KO)}"]
        paragraphs += [_paragraph(rng) for _ in range(33)]
        (directory / f"guide-{n:05d}.md").write_text("\n\n".join(paragraphs), encoding="utf-8")
    return files


def ingest_run(*, chunks: int, embedder: str, openai_key: str = "", openai_base_url: str = "") -> dict:
    """Ingest a fresh corpus with `embedder` ("offline" or "openai"); chunks, seconds, chunks/s."""
    from django.conf import settings
    from django.core.management import call_command

    from knowledge.models import Chunk, Document
    from knowledge.services.games import game_create_or_update

    previous = settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL
    settings.OPENAI_API_KEY = openai_key if embedder == "openai" else ""
    settings.OPENAI_BASE_URL = openai_base_url if embedder == "openai" else None
    try:
        slug = f"bench-ingest-{embedder}-{int(time.time() * 1000) % 10**9}"
        game = game_create_or_update(slug=slug, name_ko=slug, name_en=slug, categories=["guide"])
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            files = corpus_write(Path(tmp), chunks=chunks)
            out, err = io.StringIO(), io.StringIO()
            started = time.perf_counter()
            call_command("ingest", tmp, game=slug, category="guide", sync=True, stdout=out, stderr=err)
            seconds = time.perf_counter() - started
        made = Chunk.objects.filter(document__game=game).count()
        embedded = Chunk.objects.filter(document__game=game, embedding__isnull=False).count()
        summarised = Chunk.objects.filter(document__game=game, summarized=True).count()
        documents = Document.objects.filter(game=game).count()
        # The model the chunks were embedded by, as ingestion recorded it (OFFLINE_EMBEDDER picks the offline one).
        models = sorted(set(Chunk.objects.filter(document__game=game).values_list("embedding_model", flat=True)))
        return {
            "embedder": embedder,
            "model": ", ".join(models),
            "files": files,
            "documents": documents,
            "chunks": made,
            "embedded": embedded,
            "summarised": summarised,
            "seconds": round(seconds, 2),
            "chunks_per_s": round(made / seconds, 1) if seconds else 0.0,
            "batch_size": settings.EMBEDDING_BATCH_SIZE,
            "command_output": out.getvalue().strip().splitlines(),
        }
    finally:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = previous


def ingest_median(rows: list[dict]) -> dict:
    """The run with the median rate (its figures as they were), with every run's rate and their spread."""
    ordered = sorted(rows, key=lambda row: row["chunks_per_s"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs"] = [row["chunks_per_s"] for row in rows]
    median["chunks_per_s_spread"] = [ordered[0]["chunks_per_s"], ordered[-1]["chunks_per_s"]]
    return median
