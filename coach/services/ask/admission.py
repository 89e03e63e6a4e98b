"""An ask's state (Ask) and its admission: the player with their plan and calls left, the conversation
it continues, and one call of the plan reserved."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import User
from billing.errors import QuotaExceeded
from billing.plans import Plan
from billing.selectors import user_with_plan_usage, users_plan_usage
from billing.services import QuotaReservation, quota_reserve
from coach import selectors
from coach.models import Conversation, QuestionLog
from config.errors import ApplicationError


@dataclass
class Ask:
    user_id: int  # the token's; the player is read from the database at admission (_player_read)
    game: str
    game_name: str
    question: str
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    conversation_id: uuid.UUID | None = None
    player: User | None = None  # read with their plan and calls left (_player_read)
    reservation: QuotaReservation | None = None  # made at admission unless the exact cache answers
    admitted: bool | None = None  # None: admission not tried yet; False: refused (or failed) there; True: call reserved
    conversation: Conversation | None = None  # the one it continues, read at admission (None: a new one)
    history: list[tuple[str, str]] = field(default_factory=list)  # that conversation's last turns, oldest first
    plan: Plan | None = None
    calls_left: int | None = None  # before this question, as read with the player
    stream: bool = False
    not_covered: QuestionLog | None = None  # the guides do not cover it: its log row, written at retrieval
    stage_ms: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def player_and_plan(self) -> tuple[User, Plan]:
        """The player and their plan, read before anything is reserved or logged (_player_read)."""
        if self.player is None or self.plan is None:
            raise RuntimeError("the player is read before anything is reserved or logged")
        return self.player, self.plan

    def plan_remaining(self) -> int | None:
        """The plan's calls left after this question (X-Plan-Remaining), or None before the player was read."""
        if self.reservation is not None:
            return self.reservation.remaining + (1 if self.reservation.released else 0)
        return self.calls_left

    def lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_ms[stage] = round((now - since) * 1000, 2)
        return now


def _conversation_with_turns(*, user: User, conversation_id: uuid.UUID) -> tuple[Conversation, list[tuple[str, str]]]:
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    turns = selectors.conversation_turns(conversation_id=conversation.id, limit=settings.COACH_HISTORY_TURNS)
    return conversation, turns


def ask_player(*, user_id: int) -> tuple[User, dict[str, Any]]:
    """The token's player and their plan's usage (billing.selectors.users_plan_usage), in one query;
    AuthenticationFailed (401) when they were deleted or deactivated since the token was issued."""
    user = user_with_plan_usage(user_id=user_id)
    if user is None:
        raise AuthenticationFailed("User not found", code="user_not_found")
    if not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    return user, users_plan_usage(user)


def _player_read(ask: Ask) -> User:
    """The player the token names (ask.player), with ask.plan and ask.calls_left (one query)."""
    ask.player, usage = ask_player(user_id=ask.user_id)
    ask.plan, ask.calls_left = usage["plan"], usage["remaining"]
    return ask.player


def _admission_read(ask: Ask) -> User:
    """The player (ask.player, ask.plan, ask.calls_left) and the conversation the question continues
    (ask.conversation, ask.history), before anything is counted: AuthenticationFailed (401), then
    unknown_conversation (404)."""
    player = _player_read(ask)
    if ask.conversation_id:
        try:
            ask.conversation, ask.history = _conversation_with_turns(user=player, conversation_id=ask.conversation_id)
        except Conversation.DoesNotExist:
            raise ApplicationError(
                _("No such conversation."), code="unknown_conversation", status=404,
                details={"conversation_id": str(ask.conversation_id)},
            ) from None  # fmt: skip
    return player


def _admit(ask: Ask) -> None:
    """Admission, in a worker thread: the player and the conversation (_admission_read), then one call
    of the plan reserved (ask.reservation). Raises AuthenticationFailed (401), unknown_conversation
    (404) and QuotaExceeded (429) before anything is written or counted; ask.admitted says whether it
    got through."""
    started = time.perf_counter()
    ask.admitted = False
    player = _admission_read(ask)
    try:
        ask.reservation = quota_reserve(user=player)
    except QuotaExceeded:
        ask.calls_left = 0  # taken by simultaneous questions since it was read
        raise
    ask.admitted = True
    ask.lap("admit", started)
