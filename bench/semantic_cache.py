"""Benchmark 4: the semantic cache's hits and wrong hits per kind of question pair, per embedder, with and
without the guard, on a dev part and a held-out part.

Reads labelled question pairs (bench/data/hard_pairs.jsonl by default: Korean and English, six kinds
that mean the same -- paraphrase, mixed ko/en spelling, politeness, typo, filler, word order -- and six
kinds of look-alike that must not share an answer -- reversed matchup, other entity, other patch,
modifier, negation, counter vs build; bench/data/question_pairs.jsonl is the older, easier set, kept
as a regression check). Each pair alone: the asked question may reuse the stored one's answer when
the scope matches (game, category, language), the cosine distance is within the threshold and, with
the guard, coach.services.cache.semantic_hit_choose (what the lookup runs) agrees.

For each embedder (hash: hashed n-grams; e5: multilingual-e5-small in-process) the cache key is either
the raw question's embedding or the canonical question's (coach.services.guard.canonical.question_canonical:
names as entity ids, politeness endings, filler and punctuation gone). The threshold is chosen on the
dev part only (the best hit rate with wrong hits <= 1% of its look-alikes); the held-out part is then
read at that threshold, never tuned on. The guard's entities come from the games' catalogues
(knowledge.selectors.entity_index), or from a pairs file's "entities" when it has them.

The summary also reads each embedder at the threshold the service uses for it (coach.services.cache.
semantic.MAX_DISTANCE_BY_MODEL), with and without the guard, and what a perfect yes/no model check
(coach.services.cache.verify) could add at the widest threshold: every right hit the guard passes,
no wrong one. Also measured: the guard's and canonicalisation's CPU per lookup (microseconds), and
the embedding time per question.

An outside pairs file (bench/data/outside_pairs*.jsonl, written by someone who saw neither the code nor the
other pairs; every pair "holdout") is read alone: its intents are its own, so mixed into another file's
index a same-meaning hit across the two files would count as a wrong one. --show lists, at the service's
threshold with the guard, each wrong hit and each same-meaning pair not served, with the check that refused it.

    .venv/bin/python bench/semantic_cache.py [--data PATH] [--embedders hash,e5] [--out PATH] [--show]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "hard_pairs.jsonl"
RESULTS = ROOT / "bench" / "results"
CATALOGUE = ROOT / "knowledge" / "catalogue"
THRESHOLDS = [round(0.02 * i, 2) for i in range(1, 31)]  # 0.02 .. 0.60
WRONG_HIT_LIMIT = 0.01
KNEE = 0.02
RUN_FIELDS = ("hit_rate", "wrong_hit_rate", "wrong_hits")
SPLITS = ("dev", "holdout")


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["OPENAI_API_KEY"] = ""  # offline embedders only: no network, reproducible
    import django

    django.setup()


def load_pairs(path: Path) -> list[dict]:
    pairs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for pair in pairs:
        stored, asked = pair["stored"], pair["asked"]
        same_scope = stored["game"] == asked["game"] and stored["category"] == asked["category"]
        expected = same_scope and stored["intent"] == asked["intent"] and _lang(stored) == _lang(asked)
        if expected != pair["same"]:
            raise SystemExit(f"{pair['id']}: 'same' disagrees with its intents and scope")
    return pairs


def _lang(side: dict) -> str:
    from knowledge.sentences import question_language

    return question_language(side["question"])


def entity_indexes(pairs: list[dict]) -> dict[str, object]:
    """The guard's entity index per game: the pairs' own "entities" (the older set), else the catalogue."""
    from coach.services.guard.entities import term_index

    games = {pair[side]["game"] for pair in pairs for side in ("stored", "asked")}
    if all("entities" in pair for pair in pairs):
        terms: dict[str, set[str]] = defaultdict(set)
        for pair in pairs:
            terms[pair["stored"]["game"]].update(pair["entities"])
        return {game: term_index(tuple(sorted(terms[game]))) for game in games}
    from knowledge.entities import EntityIndex

    indexes = {}
    for game in games:  # the shipped catalogue as it is, without a database (nor what staff or ingestion add)
        rows = json.loads((CATALOGUE / f"{game}.json").read_text(encoding="utf-8"))
        indexes[game] = EntityIndex.build([(row["id"], row["kind"], [row["en"], row["ko"], *row.get("aliases", [])])
                                           for row in rows])  # fmt: skip
    return indexes


def embedders(names: list[str]) -> dict[str, object]:
    from django.conf import settings

    from ai import embeddings

    out = {}
    for name in names:
        if name == "hash":
            out[name] = embeddings.OfflineEmbedder(settings.EMBEDDING_DIM)
        elif name == "e5":
            out[name] = embeddings.E5Embedder(settings.EMBEDDING_DIM)
        else:
            raise SystemExit(f"unknown embedder {name!r}")
    return out


def _cosine_distance(a: list[float], b: list[float]) -> float:
    return 1.0 - sum(x * y for x, y in zip(a, b, strict=True))


def _outcomes(pairs, distances, indexes, threshold, guard) -> list[tuple[dict, str | None]]:
    """Each pair alone: (pair, "right" | "wrong" | None)."""
    from coach.services.cache import semantic_hit_choose
    from coach.services.cache.redis_index import Candidate

    rows = []
    for pair in pairs:
        stored, asked = pair["stored"], pair["asked"]
        candidates = []
        if _scope(stored) == _scope(asked):
            candidates = [Candidate(pair["id"], stored["question"], distances[pair["id"]], stored, (), ())]
        hit = semantic_hit_choose(question=asked["question"], candidates=candidates, index=indexes[asked["game"]],
                                  max_distance=threshold, guard=guard)  # fmt: skip
        rows.append((pair, None if hit is None else "right" if pair["same"] else "wrong"))
    return rows


def _outcomes_index(pairs, distances_all, indexes, threshold, guard, k) -> list[tuple[dict, str | None]]:
    """Every stored question of the set is in the cache: the asked one sees its k nearest in scope (what the
    index's KNN returns). A hit is right when the entry it found has the asked question's intent (the
    data gives one intent to the questions of a same-meaning pair, and to identical questions)."""
    from coach.services.cache import semantic_hit_choose
    from coach.services.cache.redis_index import Candidate

    rows = []
    for pair in pairs:
        asked = pair["asked"]
        nearest = sorted(distances_all[pair["id"]], key=lambda item: item[1])[:k]
        candidates = [
            Candidate(side["question"], side["question"], distance, side, (), ()) for side, distance in nearest
        ]
        hit = semantic_hit_choose(question=asked["question"], candidates=candidates, index=indexes[asked["game"]],
                                  max_distance=threshold, guard=guard)  # fmt: skip
        rows.append((pair, None if hit is None else "right" if hit.payload["intent"] == asked["intent"] else "wrong"))
    return rows


def _scope(side: dict) -> tuple[str, str, str]:
    return side["game"], side["category"], _lang(side)


def _rates(rows: list[tuple[dict, str | None]]) -> dict:
    same = [outcome for pair, outcome in rows if pair["same"]]
    alike = [outcome for pair, outcome in rows if not pair["same"]]
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair, outcome in rows:
        by_kind[pair["kind"]][0] += outcome == ("right" if pair["same"] else "wrong")
        by_kind[pair["kind"]][1] += 1
    hits, wrong = same.count("right"), alike.count("wrong")
    return {
        "same": len(same),
        "look_alikes": len(alike),
        "hits": hits,
        "wrong_hits": wrong,
        "hit_rate": hits / len(same) if same else 0.0,
        "wrong_hit_rate": wrong / len(alike) if alike else 0.0,
        # a same-meaning question served another question's answer (another entry in the index)
        "wrong_hits_on_same_meaning": same.count("wrong"),
        "by_kind": {kind: {"hits": n, "pairs": total} for kind, (n, total) in sorted(by_kind.items())},
    }


def sweep(pairs, distances, indexes, guard, k: int | None = None) -> dict[float, dict[str, dict]]:
    """threshold -> split -> rates; with k, against the whole set (distances: pair id -> all candidates)."""
    table = {}
    for threshold in THRESHOLDS:
        if k is None:
            rows = _outcomes(pairs, distances, indexes, threshold, guard)
        else:
            rows = _outcomes_index(pairs, distances, indexes, threshold, guard, k)
        table[threshold] = {split: _rates([r for r in rows if r[0]["split"] == split]) for split in SPLITS}
    return table


def _all_distances(pairs, vectors, texts) -> dict[str, list[tuple[dict, float]]]:
    """For each pair, every distinct stored question of its scope (game, category, language) and its distance."""
    stored = {}
    for pair in pairs:
        stored.setdefault((*_scope(pair["stored"]), pair["stored"]["question"]), pair["stored"])
    out = {}
    for pair in pairs:
        asked = pair["asked"]
        mine = vectors[texts[asked["question"]]]
        out[pair["id"]] = [(side, _cosine_distance(mine, vectors[texts[side["question"]]]))
                           for key, side in stored.items() if key[:3] == _scope(asked)]  # fmt: skip
    return out


def choose(table: dict[float, dict[str, dict]]) -> float | None:
    """The dev part's threshold: the smallest whose hit rate is within KNEE of the best hit rate any threshold
    reaches with wrong hits <= 1% of the dev look-alikes (past the knee, more reach buys few hits and
    exposes the cache to look-alikes the dev part lacks)."""
    allowed = [t for t, splits in table.items() if splits["dev"]["wrong_hit_rate"] <= WRONG_HIT_LIMIT]
    if not allowed:
        return None
    best = max(table[t]["dev"]["hit_rate"] for t in allowed)
    return min(t for t in allowed if table[t]["dev"]["hit_rate"] >= best - KNEE)


def guard_cost(pairs, indexes, k: int) -> dict:
    """CPU of canonicalising the asked question and checking it against k cached ones (µs): "cold" with every
    cache empty, "warm" with the cached questions' facts already read (a popular entry's are)."""
    import gc

    from coach.services.guard import canonical, check

    timings: dict[str, list[float]] = {"cold": [], "warm": []}
    gc.disable()  # a collection landing in one lookup says nothing about the guard
    try:
        for pair in pairs:
            index = indexes[pair["asked"]["game"]]
            cached = [pair["stored"]["question"]] + [p["stored"]["question"] for p in pairs[: k - 1]]
            for state in ("cold", "warm"):
                check.guard_caches_clear()
                if state == "warm":
                    for question in cached:
                        check.guard_check(question, question, index=index)
                started = time.perf_counter()
                canonical.question_canonical(pair["asked"]["question"], index)
                for question in cached:
                    check.guard_check(pair["asked"]["question"], question, index=index)
                timings[state].append((time.perf_counter() - started) * 1e6)
    finally:
        gc.enable()
    out: dict = {"k": k}
    for state, values in timings.items():
        values.sort()
        out[f"{state}_p50_us"] = statistics.median(values)
        out[f"{state}_p95_us"] = values[int(0.95 * (len(values) - 1))]
    return out


def show(pairs, distances, indexes, threshold, k, name) -> None:
    """Print the held-out wrong hits and the same-meaning pairs not served, at `threshold` with the guard."""
    from coach.services.guard.check import guard_check

    if k is None:
        rows = _outcomes(pairs, distances, indexes, threshold, True)
    else:
        rows = _outcomes_index(pairs, distances, indexes, threshold, True, k)
    print(f"\n{name} @{threshold:.2f} with the guard, held-out:")
    for pair, outcome in rows:
        stored, asked = pair["stored"], pair["asked"]
        if pair["split"] != "holdout" or outcome == ("right" if pair["same"] else None):
            continue
        if k is None:
            distance = distances[pair["id"]]
        else:
            distance = next(d for side, d in distances[pair["id"]] if side["question"] == stored["question"])
        verdict = guard_check(asked["question"], stored["question"], index=indexes[asked["game"]])
        why = "wrong hit" if outcome == "wrong" else f"missed ({verdict.reason or 'distance'})"
        questions = f"{stored['question']} || {asked['question']}"
        print(f"  {pair['id']} {pair['kind']:<17} {why:<22} {distance:.3f}  {questions}")


def find_cost(indexes) -> float:
    """Microseconds of one entity find() on a long Korean question (best of 5 x 2,000), League's catalogue."""
    index = indexes.get("league-of-legends") or next(iter(indexes.values()))
    question = "리신으로 정글 돌 때 카직스 상대로 첫 갱 타이밍이 언제가 좋아요? 점멸은 먼저 쓰는 게 맞나요, 아니면?"
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(2000):
            index.find(question)
        best = min(best, (time.perf_counter() - started) / 2000)
    return best * 1e6


def _fmt_kinds(rates: dict) -> str:
    return ", ".join(f"{kind} {v['hits']}/{v['pairs']}" for kind, v in rates["by_kind"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--embedders", default="hash,e5")
    parser.add_argument(
        "--mode",
        choices=["index", "pairs"],
        default="index",
        help="index: every stored question is a candidate (k nearest); pairs: each pair alone",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "semantic_cache.json")
    parser.add_argument("--show", action="store_true", help="list wrong hits and misses at the service threshold")
    args = parser.parse_args()
    _setup_django()
    from django.conf import settings

    from coach.services.cache.semantic import MAX_DISTANCE_BY_MODEL
    from coach.services.guard.canonical import question_canonical

    pairs = load_pairs(args.data)
    indexes = entity_indexes(pairs)
    kinds = Counter((pair["kind"], pair["same"]) for pair in pairs)
    print(f"{len(pairs)} pairs from {args.data.name}: {sum(p['same'] for p in pairs)} same-meaning, "
          f"{sum(not p['same'] for p in pairs)} look-alikes; " + ", ".join(
              f"{split} {sum(p['split'] == split for p in pairs)}" for split in SPLITS))  # fmt: skip
    print(
        "kinds: " + ", ".join(f"{k}{'' if s else '*'} {n}" for (k, s), n in sorted(kinds.items())) + "  (* look-alike)"
    )

    k = settings.SEMANTIC_CACHE_CANDIDATES
    cost = guard_cost(pairs, indexes, k)
    print(f"guard + canonicalisation per lookup ({cost['k']} candidates): cold p50 {cost['cold_p50_us']:.0f} µs, "
          f"p95 {cost['cold_p95_us']:.0f} µs; cached questions' facts warm p50 {cost['warm_p50_us']:.0f} µs, "
          f"p95 {cost['warm_p95_us']:.0f} µs")  # fmt: skip

    found_us = find_cost(indexes)
    print(f"entity find() on a 55-character Korean question: {found_us:.0f} µs")
    report = {"benchmark": "semantic_cache", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "data": args.data.name,
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count()},
              "pairs": len(pairs), "should_hit": sum(p["same"] for p in pairs), "mode": args.mode,
              "guard_cost": cost, "find_us": found_us, "configs": [], "modes": {}}  # fmt: skip
    summary = []
    for name, embedder in embedders(args.embedders.split(",")).items():
        for key in ("raw", "canonical"):
            texts = {}
            for pair in pairs:
                for side in ("stored", "asked"):
                    question = pair[side]["question"]
                    index = indexes[pair[side]["game"]]
                    texts[question] = question if key == "raw" else question_canonical(question, index)
            unique = sorted(set(texts.values()))
            started = time.perf_counter()
            vectors = dict(zip(unique, embedder.embed(unique, query=True), strict=True))
            embed_ms = (time.perf_counter() - started) * 1000 / len(unique)
            distances = {
                pair["id"]: _cosine_distance(
                    vectors[texts[pair["stored"]["question"]]], vectors[texts[pair["asked"]["question"]]]
                )
                for pair in pairs
            }
            if args.mode == "index":
                distances = _all_distances(pairs, vectors, texts)
            service = MAX_DISTANCE_BY_MODEL.get(embedder.model_name, settings.SEMANTIC_CACHE_MAX_DISTANCE)
            if args.show and key == "raw":
                show(pairs, distances, indexes, service, k if args.mode == "index" else None, name)
            for guard in (False, True):
                table = sweep(pairs, distances, indexes, guard, k if args.mode == "index" else None)
                if key == "raw" and name == settings.OFFLINE_EMBEDDER:  # what bin/bench's targets read
                    report["setting_max_distance"] = service
                    for split in SPLITS:
                        rows = report["modes"].setdefault(f"{args.mode}/{split}", [])
                        for t, r in table.items():
                            counts = {f: r[split][f] for f in RUN_FIELDS}
                            queries = r[split]["same"] + r[split]["look_alikes"]
                            rows.append({"guard": guard, "max_distance": t, **counts, "queries": queries})
                if key == "raw":  # the service keys the cache on the raw question's vector
                    row = table[min(THRESHOLDS, key=lambda t: abs(t - service))]
                    summary.append((f"{name:<4} {key:<9} {'guard' if guard else 'no-guard'}(service)", service, row))
                if key == "raw" and guard:
                    # The most a yes/no model check (coach.services.cache.verify) could add: a perfect one at
                    # the widest threshold keeps every right hit the guard passes and refuses every wrong one.
                    wide = table[max(THRESHOLDS)]
                    perfect = {split: {**wide[split], "wrong_hits": 0, "wrong_hit_rate": 0.0} for split in SPLITS}
                    summary.append((f"{name:<4} {key:<9} guard+perfect-check", max(THRESHOLDS), perfect))
                    report["perfect_check"] = report.get("perfect_check", {}) | {name: perfect}
                threshold = choose(table)
                label = f"{name:<4} {key:<9} {'guard' if guard else 'no guard':<8}"
                if threshold is None:
                    print(f"{label}: no threshold keeps dev wrong hits <= 1%")
                    summary.append((label, None, None))
                    continue
                row = table[threshold]
                summary.append((label, threshold, row))
                report["configs"].append({"embedder": name, "key": key, "guard": guard, "threshold": threshold,
                                          "embed_ms_per_question": embed_ms, **row})  # fmt: skip
                for split in SPLITS:
                    print(f"{label} @{threshold:.2f} {split:<7}: hits {row[split]['hit_rate']:.0%}, "
                          f"wrong {row[split]['wrong_hit_rate']:.1%} | {_fmt_kinds(row[split])}")  # fmt: skip
            print(f"  ({name}, {key}: {embed_ms:.2f} ms per question embedded)")

    print("\n(guard(service): at the threshold the service uses for the model, coach.services.cache.semantic)")
    print("| embedder | key | guard | threshold (dev) | dev hits | dev wrong | held-out hits | held-out wrong |")
    print("|---|---|---|---|---|---|---|---|")
    for label, threshold, row in summary:
        name, key, *guard = label.split()
        if row is None:
            print(f"| {name} | {key} | {' '.join(guard)} | none | - | - | - | - |")
            continue
        dev, held = row["dev"], row["holdout"]
        print(f"| {name} | {key} | {' '.join(guard)} | {threshold:.2f} "
              f"| {dev['hit_rate']:.0%} ({dev['hits']}/{dev['same']}) "
              f"| {dev['wrong_hit_rate']:.1%} ({dev['wrong_hits']}/{dev['look_alikes']}) "
              f"| {held['hit_rate']:.0%} ({held['hits']}/{held['same']}) "
              f"| {held['wrong_hit_rate']:.1%} ({held['wrong_hits']}/{held['look_alikes']}) |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
