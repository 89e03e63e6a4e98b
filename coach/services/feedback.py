"""Feedback on answers: a down-vote also evicts the answer from the semantic cache."""

from django.db import transaction

from accounts.models import User
from coach.models import Feedback, QuestionLog


def feedback_submit(*, user: User, answer: QuestionLog, rating: str, comment: str = "") -> Feedback:
    """Record (or change) the user's rating of one of their answers; one rating per answer."""
    with transaction.atomic():
        feedback, _ = Feedback.objects.update_or_create(
            answer=answer, defaults={"user": user, "rating": rating, "comment": comment}
        )
    if rating == Feedback.Rating.DOWN:
        from coach.services.cache import semantic_cache_evict_answer

        transaction.on_commit(lambda: semantic_cache_evict_answer(answer_id=answer.id, entry_id=answer.semantic_entry))
    return feedback
