"""The filtered vector search over chunks: the ask's retrieval, the API's and the console's search."""

from __future__ import annotations

import array
import functools
import struct
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from .models import LANGUAGES

MAX_K = 50


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
    language: str = "ko"


SearchPath = Literal["exact", "hnsw", "hnsw+exact", "empty"]


@dataclass(frozen=True)
class SearchPlan:
    """How a search ran, for the retrieval-test page and the benchmark."""

    path: SearchPath
    filtered_rows: int  # counted up to RETRIEVAL_EXACT_MAX_ROWS + 1 ("more than" past that)
    ms: float


def chunk_search(
    *,
    game: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
    language: str | None = None,
    k: int | None = None,
    per_language: bool = False,
) -> list[ChunkHit]:
    """The k chunks nearest to `embedding` (cosine) among published chunks of this game, embedded by
    `model_name`, in `category` (when given) and carrying any of `tags` (when given); nearest first.

    Never fewer than k when k such chunks exist. An unknown game has no chunks.
    """
    hits, _plan = chunk_search_with_plan(
        game=game,
        embedding=embedding,
        model_name=model_name,
        category=category,
        tags=tags,
        language=language,
        k=k,
        per_language=per_language,
    )
    return hits


def chunk_search_with_plan(
    *,
    game: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
    language: str | None = None,
    k: int | None = None,
    plan: Literal["auto", "exact", "hnsw"] = "auto",
    per_language: bool = False,
) -> tuple[list[ChunkHit], SearchPlan]:
    """chunk_search, also saying how it ran. The plan is chosen per query because no single index
    setting keeps recall up for every filter (HNSW filters after its walk, so a narrow filter empties it):

    - a filtered set of at most RETRIEVAL_EXACT_MAX_ROWS chunks is scanned exactly: the true top k.
      Without tags the set is first counted, up to that limit, on the B-tree over game, model and
      category (an index-only scan, no heap pages); with tags (which the B-tree cannot count) the
      exact scan counts as it goes and stops once past the limit;
    - a larger set goes through the HNSW index with iterative scans (relaxed order, so the rows come
      roughly nearest first) and RETRIEVAL_HNSW_EF_SEARCH; the RETRIEVAL_HNSW_CANDIDATES nearest found
      are put in exact order; should that still return fewer than k, the exact scan runs instead.

    per_language: the k nearest of each language (knowledge.retrieval), in one statement on the exact path.
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
    cap = settings.RETRIEVAL_EXACT_MAX_ROWS + 1
    params = {"game": game, "model": model_name, "k": k, "query": halfvec_text(embedding), "cap": cap}
    if category:
        where.append("c.category = %(category)s")
        params["category"] = category
    if tags:
        where.append("c.tags && %(tags)s::varchar(50)[]")
        params["tags"] = list(tags)
    if language:
        where.append("c.language = %(language)s")
        params["language"] = language
    where_sql = " AND ".join(where)

    path: SearchPath
    with connection.cursor() as cursor:
        if per_language:
            rows, filtered, path = _per_language(cursor, where_sql, params, cap, plan)
        elif plan == "exact":
            rows, filtered = _exact_counted(cursor, where_sql, params, limited=False)
            path = "exact"
        else:
            rows, filtered, path = [], cap, "hnsw"
            if plan == "auto" and tags:
                rows, filtered = _exact_counted(cursor, where_sql, params, limited=True)
                path = "exact"
            elif plan == "auto":
                filtered = _count(cursor, where_sql, params)
                if 0 < filtered < cap:
                    rows, path = _exact(cursor, where_sql, params), "exact"
            if filtered >= cap:
                rows, path = _hnsw(cursor, where_sql, params), "hnsw"
                if len(rows) < k:  # iterative scans gave up (max_scan_tuples) before finding k
                    rows, filtered = _exact_counted(cursor, where_sql, params, limited=False)
                    path = "hnsw+exact"
        if filtered == 0 or not rows:
            return [], SearchPlan("empty", 0, _ms(started))
    hits = [ChunkHit(*row[:10]) for row in sorted(rows, key=lambda row: (row[5], row[0]))]
    return hits, SearchPlan(path, min(filtered, cap), _ms(started))


@functools.cache
def _halfvec_shape(dim: int) -> tuple[struct.Struct, str]:
    return struct.Struct(f"<{dim}e"), "[" + ",".join(["%.5g"] * dim) + "]"


def halfvec_text(embedding: list[float]) -> str:
    """The query vector as halfvec text, which the searches cast it to. Rounded to half precision here,
    through float32 as PostgreSQL's cast from a float32 text rounds it, each value is a half that five
    significant digits name exactly (a half has 11 bits): the same halfvec as pgvector's
    Vector.to_text, which writes every float32 out in full, in half its CPU (85 µs against 165 at
    384 dimensions)."""
    half, text = _halfvec_shape(len(embedding))
    return text % half.unpack(half.pack(*array.array("f", embedding)))


# The hits with what the coach cites, and their cosine distance (computed for these k rows only).
_HITS = """
    SELECT c.id, c.document_id, d.title, d.source_url, c.text, c.embedding <=> %(query)s::halfvec AS distance,
           c.position, c.start_time, d.updated_at, c.language
    FROM hits JOIN knowledge_chunk c ON c.id = hits.id JOIN knowledge_document d ON d.id = c.document_id
"""


def _count(cursor: CursorWrapper, where_sql: str, params: dict[str, Any]) -> int:
    """The filtered rows, counted up to the exact-scan limit + 1."""
    cursor.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk c WHERE {where_sql} LIMIT %(cap)s) AS filtered",  # noqa: S608
        params,
    )
    count: int = cursor.fetchone()[0]
    return count


# The exact scan reads every filtered row's vector, and that reading is most of its time: stored at
# half precision (knowledge.models.Chunk.embedding) it takes 15-50% less than at full precision
# (measured side by side). It ranks by cosine_distance(), the function: ORDER BY the operator
# <=> would let the planner answer with the HNSW index instead, a post-filtered walk that returns a
# few rows or none for a narrow filter. The rows come through the filter indexes.
_EXACT_DISTANCE = "cosine_distance(c.embedding, %(query)s::halfvec)"


def _exact(cursor: CursorWrapper, where_sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The true top k of the filtered rows, in one pass (a top-k sort as the rows come)."""
    cursor.execute(
        f"""
        WITH hits AS MATERIALIZED (
            SELECT c.id FROM knowledge_chunk c
            WHERE {where_sql} ORDER BY {_EXACT_DISTANCE}, c.id LIMIT %(k)s
        )
        {_HITS}
        """,  # noqa: S608 - where_sql is built from constants; values are parameters
        params,
    )
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _exact_counted(
    cursor: CursorWrapper, where_sql: str, params: dict[str, Any], *, limited: bool
) -> tuple[list[tuple[Any, ...]], int]:
    """_exact that also counts the filtered rows; `limited`: stop after the exact-scan limit + 1 rows
    (the top k is then meaningless and the caller goes to HNSW)."""
    limit = "LIMIT %(cap)s" if limited else ""
    cursor.execute(
        f"""
        WITH filtered AS MATERIALIZED (
            SELECT c.id, {_EXACT_DISTANCE} AS distance FROM knowledge_chunk c WHERE {where_sql} {limit}
        ), hits AS (SELECT id FROM filtered ORDER BY distance, id LIMIT %(k)s)
        SELECT *, (SELECT count(*) FROM filtered) FROM ({_HITS}) AS hits
        """,  # noqa: S608 - where_sql is built from constants; values are parameters
        params,
    )
    rows = cursor.fetchall()
    return rows, (rows[0][10] if rows else 0)


def _per_language(
    cursor: CursorWrapper, where_sql: str, params: dict[str, Any], cap: int, plan: str
) -> tuple[list[tuple[Any, ...]], int, SearchPath]:
    """The k nearest rows of each language in the filtered set. A set within the exact-scan limit is
    scanned once, ranked within each language (one statement, where a search per language took two
    round trips each); a larger one goes through the HNSW index once per language."""
    filtered = cap if plan == "hnsw" else _count(cursor, where_sql, params)
    if plan == "exact" or 0 < filtered < cap:
        cursor.execute(
            f"""
            WITH hits AS MATERIALIZED (
                SELECT id FROM (
                    SELECT c.id, row_number() OVER (PARTITION BY c.language ORDER BY {_EXACT_DISTANCE}, c.id) AS n
                    FROM knowledge_chunk c WHERE {where_sql}
                ) AS ranked WHERE n <= %(k)s
            )
            {_HITS}
            """,  # noqa: S608 - where_sql is built from constants; values are parameters
            params,
        )
        return cursor.fetchall(), filtered, "exact"
    if filtered == 0:
        return [], 0, "exact"
    rows: list[tuple[Any, ...]] = []
    for language, _label in LANGUAGES:
        one = f"{where_sql} AND c.language = %(language)s"
        these = {**params, "language": language}
        found = _hnsw(cursor, one, these)
        if len(found) < params["k"]:  # iterative scans gave up before finding k of this language
            found = [row[:10] for row in _exact_counted(cursor, one, these, limited=False)[0]]
        rows += found
    return rows, filtered, "hnsw"


def _hnsw(cursor: CursorWrapper, where_sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The top k of RETRIEVAL_HNSW_CANDIDATES rows found through the HNSW index (iterative scans, so
    filtered rows keep coming; relaxed order, so they come roughly nearest first), in exact order."""
    candidates = max(settings.RETRIEVAL_HNSW_CANDIDATES, params["k"])
    with transaction.atomic():  # SET LOCAL lasts until this (sub)transaction's end
        # enable_sort off: the plan is chosen here, by the set's size; the planner's guess (a sort of
        # the filtered rows, for a set it takes to be small) would be an unbounded exact scan
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.max_scan_tuples', %s, true), set_config('enable_sort', 'off', true)",
            [str(max(settings.RETRIEVAL_HNSW_EF_SEARCH, candidates)), str(settings.RETRIEVAL_HNSW_MAX_SCAN_TUPLES)],
        )
        cursor.execute(
            f"""
            WITH candidates AS MATERIALIZED (
                SELECT c.id, c.embedding <=> %(query)s::halfvec AS distance FROM knowledge_chunk c
                WHERE {where_sql} ORDER BY distance LIMIT {candidates:d}
            ), hits AS MATERIALIZED (SELECT id FROM candidates ORDER BY distance, id LIMIT %(k)s)
            {_HITS}
            """,  # noqa: S608 - where_sql is built from constants, the rest are numbers; values are parameters
            params,
        )
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
