"""The semantic cache on pgvector (coach.SemanticCacheEntry, HNSW cosine), for a Redis without search.

Same scope, distance and eviction as the Redis index. The scope filter is applied inside the HNSW
scan with pgvector 0.8's iterative scans (strict order), so a game with few entries still gets its
true nearest neighbours instead of whatever survives post-filtering of the global top 40.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from pgvector.django import CosineDistance

from coach.models import SemanticCacheEntry

from .exact import Payload
from .redis_index import Candidate, Scope


def store(
    *,
    scope: Scope,
    question: str,
    embedding: list[float],
    payload: Payload,
    document_ids: list[str],
    answer_ids: list[str],
    ttl: float,
) -> str:
    entry = SemanticCacheEntry.objects.create(
        game=scope.game,
        category=scope.category,
        language=scope.language,
        filters=scope.filters,
        model_name=scope.model_name,
        question=question,
        embedding=embedding,
        payload=payload,
        document_ids=document_ids,
        answer_ids=answer_ids,
        expires_at=timezone.now() + timedelta(seconds=ttl),
    )
    return entry.id.hex


def knn(*, scope: Scope, embedding: list[float], k: int) -> list[Candidate]:
    rows = (
        SemanticCacheEntry.objects.filter(
            game=scope.game,
            category=scope.category,
            language=scope.language,
            model_name=scope.model_name,
            filters=scope.filters,
            expires_at__gt=timezone.now(),
        )
        .annotate(distance=CosineDistance("embedding", embedding))
        .order_by("distance")
        .values_list("id", "question", "distance", "payload", "document_ids", "answer_ids")[:k]
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        found = list(rows)
    return [
        Candidate(
            entry_id=entry_id.hex,
            question=question,
            distance=float(distance),
            payload=payload,
            document_ids=tuple(document_ids),
            answer_ids=tuple(answer_ids),
        )
        for entry_id, question, distance, payload, document_ids, answer_ids in found
    ]


def evict(*, field: str, value: str) -> int:
    column = {"documents": "document_ids", "answers": "answer_ids"}[field]
    deleted, _ = SemanticCacheEntry.objects.filter(**{f"{column}__contains": [value]}).delete()
    return deleted


def delete(*, entry_id: str) -> int:
    deleted, _ = SemanticCacheEntry.objects.filter(id=entry_id).delete()
    return deleted


def purge_expired() -> int:
    deleted, _ = SemanticCacheEntry.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
