"""The ask pipeline: exact cache, embedding, semantic cache, admission, retrieval, LLM, one QuestionLog per ask.

The token was checked on the event loop; the exact cache is read there too, with the question's
kept embedding (coach.services.cache.question). A hit is one trip to a worker thread: the player
(with their plan and calls left) and the hit's log row; a resend costs no call, even with none
left. Otherwise the question is embedded (unless another player's same question was) and the
semantic cache asked, on the loop, and then admission: the player, the conversation it continues,
and one call of the plan reserved (429 quota_exceeded when none is left), in the same trip to a
worker thread as the semantic hit's log row or the miss's retrieval. The pipeline gives the call
back when the answer fails. JSON and SSE share every step: `question_ask_events` yields text deltas
and ends with the response payload.
"""

from coach.services.ask.admission import Ask, ask_player
from coach.services.ask.payload import Delta
from coach.services.ask.pipeline import question_ask_events

__all__ = ["Ask", "Delta", "ask_player", "question_ask_events"]
