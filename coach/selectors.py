"""Reads of the coach's records; every one scoped to the asking user."""

from django.db.models import QuerySet

from .models import Conversation, QuestionLog


def question_history(*, user, game: str | None = None, conversation_id=None) -> QuerySet[QuestionLog]:
    """The user's answered questions, newest first (errors are kept for accounting, not shown)."""
    logs = QuestionLog.objects.filter(user=user, error_code="").select_related("feedback").order_by("-created_at")
    if game:
        logs = logs.filter(game=game)
    if conversation_id:
        logs = logs.filter(conversation_id=conversation_id)
    return logs


def question_get(*, user, question_id) -> QuestionLog:
    """One of the user's answers; another user's id is indistinguishable from a missing one (404)."""
    return QuestionLog.objects.select_related("feedback").get(id=question_id, user=user, error_code="")


def conversation_get(*, user, conversation_id) -> Conversation:
    return Conversation.objects.get(id=conversation_id, user=user)


def conversation_turns(*, conversation_id, limit: int) -> list[tuple[str, str]]:
    """The conversation's last `limit` (question, answer) turns, oldest first, for the prompt."""
    rows = (
        QuestionLog.objects.filter(conversation_id=conversation_id, error_code="")
        .order_by("-created_at")
        .values_list("question", "answer")[:limit]
    )
    return list(reversed(rows))
