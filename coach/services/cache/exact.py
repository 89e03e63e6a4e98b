"""The exact short-TTL cache: a resent question (same user, game, normalised text) reuses its answer.

The customer's guard against accidental resends: within EXACT_CACHE_TTL_SECONDS the stored answer
payload comes back with no LLM call and no quota spent. Keys hold a sha1 of the normalised
question, never the text. Redis down is a logged miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any, TypedDict

from django.conf import settings

from .clients import redis_failed, redis_skipped, redis_sync

KEY_PREFIX = "gc:coach:exact"
# Trailing marks a resend may add or drop: "?", "？" (NFKC makes it "?"), "!!", "...", "~".
_TRAILING_EXTRA = "~"

Payload = dict[str, Any]  # an answer as the API returns it: JSON


class ExactScope(TypedDict):
    """What the exact cache keys an answer by: exact_cache_key's arguments."""

    user_id: int
    game: str
    question: str
    category: str | None
    tags: list[str] | None


def question_normalize_exact(question: str) -> str:
    """NFKC, casefold, single spaces, no trailing punctuation: "Malenia  phase 2??" == "malenia phase 2"."""
    text = " ".join(unicodedata.normalize("NFKC", question).casefold().split())
    end = len(text)
    while end and (unicodedata.category(text[end - 1]).startswith("P") or text[end - 1] in _TRAILING_EXTRA
                   or text[end - 1].isspace()):  # fmt: skip
        end -= 1
    return text[:end]


def question_fingerprint(question: str) -> str:
    """sha1 of the normalised question (hex)."""
    return hashlib.sha1(question_normalize_exact(question).encode(), usedforsecurity=False).hexdigest()


def _scope_digest(category: str | None, tags: list[str] | None) -> str:
    # Category and tags change what is retrieved, so an answer is only reused under the same ones.
    if not category and not tags:
        return "-"
    raw = json.dumps([category or "", sorted(tags or [])], ensure_ascii=False)
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:12]


def exact_cache_key(*, user_id: int, game: str, question: str, category: str | None = None,
                    tags: list[str] | None = None) -> str:  # fmt: skip
    return f"{KEY_PREFIX}:{user_id}:{game}:{_scope_digest(category, tags)}:{question_fingerprint(question)}"


def exact_ttl_ms(ttl: float | None) -> int:
    return max(1, int((settings.EXACT_CACHE_TTL_SECONDS if ttl is None else ttl) * 1000))


def payload_decode(raw: bytes | str | None) -> Payload | None:
    if raw is None:
        return None
    try:
        payload: Payload = json.loads(raw)  # written by payload_encode
    except ValueError:
        return None
    return payload


def payload_encode(payload: Payload) -> str:
    # default=str: Decimal costs, UUID ids and datetimes come back as their string forms.
    return json.dumps(payload, ensure_ascii=False, default=str)


def exact_cache_get(*, user_id: int, game: str, question: str, category: str | None = None,
                    tags: list[str] | None = None) -> Payload | None:  # fmt: skip
    """The answer payload stored for this user, game and question within the TTL, or None."""
    if redis_skipped():
        return None
    key = exact_cache_key(user_id=user_id, game=game, question=question, category=category, tags=tags)
    try:
        return payload_decode(redis_sync().get(key))
    except Exception as exc:  # fail open: any cache failure is a miss
        redis_failed("exact get", exc)
        return None


def exact_cache_set(*, user_id: int, game: str, question: str, payload: Payload, category: str | None = None,
                    tags: list[str] | None = None, ttl: float | None = None) -> bool:  # fmt: skip
    """Store an answer payload (a JSON-able dict) for EXACT_CACHE_TTL_SECONDS; False if Redis is down."""
    if redis_skipped():
        return False
    key = exact_cache_key(user_id=user_id, game=game, question=question, category=category, tags=tags)
    try:
        redis_sync().set(key, payload_encode(payload), px=exact_ttl_ms(ttl))
        return True
    except Exception as exc:
        redis_failed("exact set", exc)
        return False
