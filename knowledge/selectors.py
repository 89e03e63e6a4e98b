"""Reads of the knowledge base: filtered vector search over chunks, games and their pickers, glossaries."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from pgvector import Vector

from config.errors import ApplicationError

from .models import Document, Game, GlossaryTerm

MAX_K = 50


class UnknownGame(ApplicationError):
    status = 400
    code = "unknown_game"
    message = "No such game."


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: int
    document_id: int
    title: str
    url: str
    text: str
    distance: float  # cosine distance, 0 = same direction
    position: int
    start_time: float | None
    document_updated_at: datetime


@dataclass(frozen=True)
class SearchPlan:
    """How a search ran, for the retrieval-test page and the benchmark."""

    path: Literal["exact", "hnsw", "hnsw+exact", "empty"]
    filtered_rows: int  # counted up to RETRIEVAL_EXACT_MAX_ROWS + 1 ("more than" past that)
    ms: float


def game_get(*, slug: str) -> Game:
    game = Game.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if game is None:
        raise UnknownGame(f"No game '{slug}'.", details={"game": slug})
    return game


def glossary_terms(*, game: str) -> list[str]:
    """The game's active entity names (bosses, champions, items), for the semantic cache's guard."""
    return list(
        GlossaryTerm.objects.filter(game__slug=game, is_active=True).order_by("term").values_list("term", flat=True)
    )


def games_with_pickers() -> list[dict]:
    """Every game with the categories and tags its published documents use (two queries in all).

    Categories keep the order staff gave them on the game; ones only documents know come after.
    """
    in_use: dict[int, tuple[set, set]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT game_id, array_agg(DISTINCT category),
                   array_remove(array_agg(DISTINCT tag), NULL)
            FROM knowledge_document LEFT JOIN LATERAL unnest(tags) AS tag ON true
            WHERE status = %s GROUP BY game_id
            """,
            [Document.Status.PUBLISHED],
        )
        for game_id, categories, tags in cursor.fetchall():
            in_use[game_id] = (set(categories), set(tags))
    games = []
    for game in Game.objects.order_by("slug"):
        categories, tags = in_use.get(game.pk, (set(), set()))
        ordered = [c for c in game.categories if c in categories] + sorted(categories - set(game.categories))
        games.append(
            {
                "slug": game.slug,
                "name_ko": game.name_ko,
                "name_en": game.name_en,
                "categories": ordered,
                "tags": sorted(tags),
            }
        )
    return games


def chunk_search(
    *,
    game: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
    k: int | None = None,
) -> list[ChunkHit]:
    """The k chunks nearest to `embedding` (cosine) among published chunks of this game, embedded by
    `model_name`, in `category` (when given) and carrying any of `tags` (when given); nearest first.

    Never fewer than k when k such chunks exist. An unknown game has no chunks.
    """
    hits, _ = chunk_search_with_plan(
        game=game, embedding=embedding, model_name=model_name, category=category, tags=tags, k=k
    )
    return hits


def chunk_search_with_plan(
    *,
    game: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
    k: int | None = None,
    plan: Literal["auto", "exact", "hnsw"] = "auto",
) -> tuple[list[ChunkHit], SearchPlan]:
    """chunk_search, also saying how it ran. The plan is chosen per query because no single index
    setting keeps recall up for every filter (shared/notes/pgvector-filtered-search.md):

    - count the filtered rows, stopping at RETRIEVAL_EXACT_MAX_ROWS + 1 (cheap: the partial B-tree/GIN
      indexes, and the LIMIT bounds it);
    - up to that many: an exact scan of just those rows (a materialised subquery, so the planner
      cannot pick the HNSW index): the true top k;
    - more: HNSW with iterative scans (relaxed order, re-sorted) and a higher ef_search; should it
      still return fewer than k, the exact scan runs instead.
    """
    started = time.perf_counter()
    k = settings.RETRIEVAL_TOP_K if k is None else k
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}")
    if len(embedding) != settings.EMBEDDING_DIM:
        raise ValueError(f"embedding has {len(embedding)} dimensions, expected {settings.EMBEDDING_DIM}")
    where = [
        "c.searchable",
        "c.game_id = (SELECT id FROM knowledge_game WHERE slug = %(game)s)",
        "c.embedding_model = %(model)s",
    ]
    params = {"game": game, "model": model_name, "k": k, "query": Vector(embedding).to_text()}
    if category:
        where.append("c.category = %(category)s")
        params["category"] = category
    if tags:
        where.append("c.tags && %(tags)s::varchar(50)[]")
        params["tags"] = list(tags)
    where_sql = " AND ".join(where)
    cap = settings.RETRIEVAL_EXACT_MAX_ROWS + 1

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk c WHERE {where_sql} LIMIT {cap:d}) AS filtered",  # noqa: S608
            params,
        )
        filtered = cursor.fetchone()[0]
        if filtered == 0:
            return [], SearchPlan("empty", 0, _ms(started))
        path = plan if plan != "auto" else ("exact" if filtered < cap else "hnsw")
        if path == "hnsw":
            rows = _hnsw(cursor, where_sql, params)
            if len(rows) < min(k, filtered):
                rows, path = _exact(cursor, where_sql, params), "hnsw+exact"
        else:
            rows = _exact(cursor, where_sql, params)
    hits = [ChunkHit(*row) for row in sorted(rows, key=lambda row: (row[5], row[0]))]
    return hits, SearchPlan(path, filtered, _ms(started))


_HIT_COLUMNS = """
    SELECT c.id, c.document_id, d.title, d.source_url, c.text, hits.distance, c.position, c.start_time, d.updated_at
    FROM hits JOIN knowledge_chunk c ON c.id = hits.id JOIN knowledge_document d ON d.id = c.document_id
"""


def _exact(cursor, where_sql: str, params: dict) -> list[tuple]:
    # MATERIALIZED: the distances of just the filtered rows (found through the filter indexes) are
    # computed and sorted; an ORDER BY over the CTE cannot be served by the HNSW index.
    cursor.execute(
        f"""
        WITH filtered AS MATERIALIZED (
            SELECT c.id, c.embedding <=> %(query)s::vector AS distance FROM knowledge_chunk c WHERE {where_sql}
        ), hits AS (SELECT id, distance FROM filtered ORDER BY distance, id LIMIT %(k)s)
        {_HIT_COLUMNS}
        """,  # noqa: S608 - where_sql is built from constants; values are parameters
        params,
    )
    return cursor.fetchall()


def _hnsw(cursor, where_sql: str, params: dict) -> list[tuple]:
    with transaction.atomic():  # SET LOCAL lasts until this (sub)transaction's end
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.max_scan_tuples', %s, true)",
            [str(max(settings.RETRIEVAL_HNSW_EF_SEARCH, params["k"])), str(settings.RETRIEVAL_HNSW_MAX_SCAN_TUPLES)],
        )
        cursor.execute(
            f"""
            WITH hits AS MATERIALIZED (
                SELECT c.id, c.embedding <=> %(query)s::vector AS distance FROM knowledge_chunk c
                WHERE {where_sql} ORDER BY distance LIMIT %(k)s
            )
            {_HIT_COLUMNS}
            """,  # noqa: S608
            params,
        )
        return cursor.fetchall()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
