"""Staff review of down-voted answers: evict the answer from the semantic cache, or dismiss the report."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from coach.models import Feedback, FeedbackReview


def feedback_review_record(*, feedback: Feedback, action: str, reviewed_by: User) -> FeedbackReview:
    """Record what staff did (the latest action wins); the queue then no longer shows the feedback."""
    with transaction.atomic():
        review, _ = FeedbackReview.objects.update_or_create(
            feedback=feedback, defaults={"action": action, "reviewed_by": reviewed_by, "reviewed_at": timezone.now()}
        )
    return review


def feedback_answer_evict(*, feedback: Feedback, reviewed_by: User) -> int | None:
    """Drop the down-voted answer from the semantic cache; entries dropped, or None when the cache is down."""
    from coach.services.cache import semantic_cache_evict_answer  # the cache needs Redis; load it on use

    evicted = semantic_cache_evict_answer(answer_id=feedback.answer_id, entry_id=feedback.answer.semantic_entry)
    if evicted is not None:
        feedback_review_record(feedback=feedback, action=FeedbackReview.Action.EVICTED, reviewed_by=reviewed_by)
    return evicted
