"""Answer quality: does the coach find the guide that answers, and does it say when none does?

Ingests the labelled guide library in bench/data/quality (docs/ + manifest.json: 4 games, Korean and
English, md/txt/srt/vtt/jsonl) into its own embedded PostgreSQL, through the project's ingestion
service, embeds it with each offline embedder, and asks every question of questions.jsonl through the
ask's own retrieval (knowledge.retrieval.retrieve: per-language candidates, re-ranking, the gate) and
its own prompt fitting and offline composer (coach.services). Prints, per embedder and per split
(dev: what the weights were fitted on; heldout: never looked at while tuning; outside: written later
from the guides alone, by someone who saw neither the set nor the code, when outside.jsonl exists):

  recall@1 / recall@5   an expected guide is the first source / among the returned sources
  MRR                   mean of 1/rank of the first expected guide (0 when absent)
  xling@1               recall@1 of the questions asked in the other language than their guide
  caught                unanswerable questions answered "not covered"
  false refusals        answerable questions answered "not covered"
  facts                 answerable questions whose offline answer carries one of the expected facts
  sources               mean number of sources the prompt carried on the free plan (1,000 tokens)

    .venv/bin/python bench/quality.py [--embedders e5,hash] [--db-dir DIR] [--tune] [--show-misses]

--db-dir keeps the database (and its embeddings) for the next run; --tune fits each embedder's
calibration on the dev split only and prints the best ones (copy them to knowledge/retrieval.py).
Writes JSON to bench/results/quality-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data" / "quality"
RESULTS = ROOT / "bench" / "results"
EMBEDDERS = {"e5": "offline-multilingual-e5-small-q4", "hash": "offline-hash-ngram-v1"}
K = 5
_VECTORS: dict[tuple[str, str], list[float]] = {}  # (model, question) -> embedding, for --tune's many passes


def load_questions() -> list[dict]:
    """questions.jsonl (dev and heldout), and outside.jsonl when present: questions written afterwards,
    from the guides alone, by someone who saw neither the labelled set nor the code (split "outside")."""
    questions = []
    for name in ("questions.jsonl", "outside.jsonl"):
        if (DATA / name).exists():
            lines = (DATA / name).read_text(encoding="utf-8").splitlines()
            questions += [json.loads(line) for line in lines if line.strip()]
    return questions


def ingest_library() -> dict[int, str]:
    """The library's documents, created or updated (unchanged ones are left alone); document id -> path."""
    from knowledge.ingestion.sources import read_file
    from knowledge.models import Document
    from knowledge.services.documents import document_ingest
    from knowledge.services.games import game_create_or_update

    library = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
    manifest = library["files"]
    games = {spec["slug"]: game_create_or_update(**spec) for spec in library.get("games", [])}
    for path, meta in sorted(manifest.items()):
        game = games.get(meta["game"])
        if game is None:
            game = games[meta["game"]] = game_create_or_update(
                slug=meta["game"], name_ko=meta["game"], name_en=meta["game"]
            )
        result = read_file(DATA / "docs" / path)
        if result.errors:
            raise SystemExit(f"{path}: {result.errors[0]}")
        for number, item in enumerate(result.documents):
            document_ingest(
                game=game,
                source_key=f"quality:{path}" + (f"#{number}" if len(result.documents) > 1 else ""),
                title=meta.get("title") if len(result.documents) == 1 else item.title,
                content=item.content,
                category=meta["category"],
                tags=meta.get("tags", []),
                source_kind=meta.get("source_kind", "guide"),
                content_format=item.content_format,
                language=meta.get("language"),
                sync=False,
            )
    return {
        pk: key.removeprefix("quality:").split("#")[0]
        for pk, key in Document.objects.filter(source_key__startswith="quality:").values_list("pk", "source_key")
    }


def embed_all(embedder_name: str) -> float:
    """Every chunk embedded by this embedder (the ones it already embedded are kept); seconds taken."""
    from django.conf import settings

    from knowledge.models import Chunk, Document
    from knowledge.services.documents import document_reembed

    settings.OFFLINE_EMBEDDER = embedder_name
    started = time.perf_counter()
    for document in Document.objects.filter(source_key__startswith="quality:"):
        stale = Chunk.objects.filter(document=document).exclude(embedding_model=EMBEDDERS[embedder_name])
        if stale.exists() or document.index_status != Document.IndexStatus.READY:
            document_reembed(document=document, sync=True)
    return time.perf_counter() - started


def evaluate(questions: list[dict], paths: dict[int, str], embedder_name: str, calibration=None) -> list[dict]:
    """Each question asked through retrieval, the gate, the prompt's fitting and the offline composer."""
    from django.conf import settings

    from ai.embeddings import get_embedder
    from billing.plans import plans_all
    from coach.services.evidence import evidence_fit
    from coach.services.offline import offline_answer
    from knowledge.retrieval import retrieve

    settings.OFFLINE_EMBEDDER = embedder_name
    embedder = get_embedder()
    missing = [q["question"] for q in questions if (embedder.model_name, q["question"]) not in _VECTORS]
    for text, vector in zip(missing, embedder.embed(missing, query=True) if missing else [], strict=True):
        _VECTORS[embedder.model_name, text] = vector
    vectors = [_VECTORS[embedder.model_name, q["question"]] for q in questions]
    rows = []
    for question, vector in zip(questions, vectors, strict=True):
        found = retrieve(
            game=question["game"], question=question["question"], embedding=vector, model_name=embedder.model_name,
            category=question.get("category"), k=K, calibration=calibration,
        )  # fmt: skip
        ranked_paths = list(dict.fromkeys(paths.get(item.hit.document_id, "?") for item in found.ranked))
        expected = question["expected"]
        rank = next((i for i, path in enumerate(ranked_paths, start=1) if path in expected), None)
        answer, used = "", 0
        if found.grounded and calibration is None:
            fitted = evidence_fit(question=question["question"], ranked=found.ranked, plan=plans_all()["free"],
                                  game=question["game"], game_name=question["game"])  # fmt: skip
            used = len(fitted)
            answer = offline_answer(question=question["question"], sources=fitted, game_name=question["game"])
        facts = [fact for fact in question.get("answer_facts", []) if fact.lower() in answer.lower()]
        rows.append(
            {
                "id": question["id"], "split": question["split"], "kind": question["kind"],
                "answerable": bool(expected), "rank": rank, "grounded": found.grounded, "reason": found.reason,
                "best": round(found.best_score, 4), "top": ranked_paths[:3], "expected": expected,
                "question": question["question"], "facts_found": bool(facts), "sources_used": used,
            }
        )  # fmt: skip
    return rows


def figures(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    xling = [r for r in answerable if r["kind"] == "cross_lingual"]

    def share(items, test):
        return round(sum(1 for r in items if test(r)) / len(items), 3) if items else None

    return {
        "questions": len(rows),
        "recall@1": share(answerable, lambda r: r["rank"] == 1),
        "recall@5": share(answerable, lambda r: r["rank"] is not None),
        "mrr": round(sum(1 / r["rank"] for r in answerable if r["rank"]) / len(answerable), 3) if answerable else None,
        "xling@1": share(xling, lambda r: r["rank"] == 1),
        "xling_n": len(xling),
        "caught": f"{sum(1 for r in unanswerable if not r['grounded'])}/{len(unanswerable)}",
        "false_refusals": f"{sum(1 for r in answerable if not r['grounded'])}/{len(answerable)}",
        "facts": share([r for r in answerable if r["grounded"]], lambda r: r["facts_found"]),
        "sources": round(sum(r["sources_used"] for r in answerable) / len(answerable), 2) if answerable else None,
    }


def tune(questions: list[dict], paths: dict[int, str], embedder_name: str) -> None:
    """A grid over the calibration, scored on the dev split only: recall@1 plus the gate's balance."""
    from knowledge.retrieval import CALIBRATIONS

    dev = [q for q in questions if q["split"] == "dev"]
    base = CALIBRATIONS[EMBEDDERS[embedder_name]]
    results = []
    grid = itertools.product([0.0, 0.03, 0.06, 0.09, 0.12], [0.0, 0.05, 0.1, 0.2], [0.0, 0.05, 0.1, 0.2])
    for bonus, entity, lexical in grid:
        calibration = replace(base, cross_lingual_bonus=bonus, entity_weight=entity, lexical_weight=lexical)
        rows = evaluate(dev, paths, embedder_name, calibration)
        answerable = [r for r in rows if r["answerable"]]
        top1 = sum(1 for r in answerable if r["rank"] == 1) / len(answerable)
        results.append((top1, bonus, entity, lexical, rows))
    results.sort(key=lambda item: -item[0])
    for top1, bonus, entity, lexical, rows in results[:5]:
        print(f"  {embedder_name}: recall@1 {top1:.3f}  bonus {bonus}  entity {entity}  lexical {lexical}")
        # the floor: best scores of answerable and unanswerable questions under these weights
        good = sorted(r["best"] for r in rows if r["answerable"] and r["reason"] != "entity_missing")
        bad = sorted(r["best"] for r in rows if not r["answerable"])
        print(f"    answerable best scores (lowest 6): {good[:6]}")
        print(f"    unanswerable best scores: {bad}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedders", default="e5,hash")
    parser.add_argument("--db-dir", help="keep the database here for the next run")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    from bench.retrieval import start_database

    workdir = Path(args.db_dir) if args.db_dir else Path(tempfile.mkdtemp(prefix="gamecoach-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = start_database(workdir)
    try:
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        os.environ["OPENAI_API_KEY"] = ""
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from knowledge.models import Game
        from knowledge.services.catalogue import catalogue_load
        from knowledge.services.glossary import glossary_seed

        questions = load_questions()
        paths = ingest_library()
        for game in Game.objects.all():
            glossary_seed(game=game)
            catalogue_load(game=game.slug)
        report = {"questions": len(questions), "documents": len(set(paths.values())), "embedders": {}}
        print(f"{len(set(paths.values()))} documents, {len(questions)} questions")
        print(f"{'embedder':<6} {'split':<8} {'n':>4} {'r@1':>6} {'r@5':>6} {'MRR':>6} {'xling@1':>8} "
              f"{'caught':>7} {'false ref.':>10} {'facts':>6} {'sources':>7}")  # fmt: skip
        for name in args.embedders.split(","):
            seconds = embed_all(name)
            if args.tune:
                tune(questions, paths, name)
                continue
            rows = evaluate(questions, paths, name)
            report["embedders"][name] = {"embed_seconds": round(seconds, 1), "splits": {}, "rows": rows}
            splits = [name for name in ("dev", "heldout", "outside") if any(q["split"] == name for q in questions)]
            for split in [*splits, "all"]:
                part = [r for r in rows if split == "all" or r["split"] == split]
                result = figures(part)
                report["embedders"][name]["splits"][split] = result
                print(
                    f"{name:<6} {split:<8} {result['questions']:>4} {result['recall@1']:>6} {result['recall@5']:>6} "
                    f"{result['mrr']:>6} {result['xling@1']:>8} {result['caught']:>7} {result['false_refusals']:>10} "
                    f"{result['facts']:>6} {result['sources']:>7}"
                )
            if args.show_misses:
                for r in rows:
                    if r["split"] == "dev" and (
                        (r["rank"] != 1 and r["answerable"]) or r["grounded"] != r["answerable"]
                    ):
                        print(
                            f"    {r['id']} {r['kind']:<13} rank={r['rank']} grounded={r['grounded']} {r['reason']}"
                            f" best={r['best']} {r['question']!r} -> {r['top'][:2]} want {r['expected'][:1]}"
                        )
        RESULTS.mkdir(exist_ok=True)
        out = Path(args.out) if args.out else RESULTS / f"quality-{time.strftime('%Y%m%d-%H%M%S')}.json"
        if not args.tune:
            out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
            print(f"wrote {out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
