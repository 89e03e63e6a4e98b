"""Reads of the coach's records; every one scoped to the asking user."""

import re
import uuid
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Max, QuerySet

from accounts.models import User

from .models import Conversation, QuestionLog


def question_history(
    *, user: User, game: str | None = None, conversation_id: uuid.UUID | None = None
) -> QuerySet[QuestionLog]:
    """The user's answered questions, newest first (errors are kept for accounting, not shown)."""
    logs = QuestionLog.objects.filter(user=user, error_code="").select_related("feedback").order_by("-created_at")
    if game:
        logs = logs.filter(game=game)
    if conversation_id:
        logs = logs.filter(conversation_id=conversation_id)
    return logs


def question_get(*, user: User, question_id: uuid.UUID) -> QuestionLog:
    """One of the user's answers; another user's id is indistinguishable from a missing one (404)."""
    return QuestionLog.objects.select_related("feedback").get(id=question_id, user=user, error_code="")


def conversation_get(*, user: User, conversation_id: uuid.UUID) -> Conversation:
    return Conversation.objects.get(id=conversation_id, user=user)


def conversation_turns(*, conversation_id: uuid.UUID, limit: int) -> list[tuple[str, str]]:
    """The conversation's last `limit` (question, answer) turns, oldest first, for the prompt."""
    rows = (
        QuestionLog.objects.filter(conversation_id=conversation_id, error_code="")
        .order_by("-created_at")
        .values_list("question", "answer")[:limit]
    )
    return list(reversed(rows))


_GAP_PUNCTUATION = re.compile(r"[\s?？!！.。~…]+$")


def content_gaps(*, date_from: date, date_to: date, game: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """What players asked that the guides did not cover (QuestionLog.grounded False), grouped by game and
    question (case, spacing and trailing punctuation aside), most asked first: the guides to write next."""
    logs = QuestionLog.objects.filter(
        grounded=False, created_at__date__gte=date_from, created_at__date__lt=date_to + timedelta(days=1)
    )
    if game:
        logs = logs.filter(game=game)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    rows = logs.values("game", "question").annotate(
        count=Count("id"), last=Max("created_at"), players=Count("user", distinct=True)
    )
    for row in rows.order_by():
        key = (row["game"], _GAP_PUNCTUATION.sub("", " ".join(row["question"].lower().split())))
        group = groups.setdefault(
            key, {"game": key[0], "question": row["question"], "count": 0, "players": 0, "last": row["last"]}
        )
        group["count"] += row["count"]
        group["players"] += row["players"]
        group["last"] = max(group["last"], row["last"])
    ranked = sorted(groups.values(), key=lambda group: (-group["count"], -group["last"].timestamp(), group["question"]))
    return ranked[:limit]


def content_gaps_by_game(gaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gaps' questions counted per game, most first."""
    totals: dict[str, dict[str, Any]] = {}
    for gap in gaps:
        total = totals.setdefault(gap["game"], {"game": gap["game"], "questions": 0, "asks": 0})
        total["questions"] += 1
        total["asks"] += gap["count"]
    return sorted(totals.values(), key=lambda total: (-total["asks"], total["game"]))
