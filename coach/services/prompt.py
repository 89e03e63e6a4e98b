"""The coach's prompt: Jinja2 templates for the system rules (per game) and the player's turn with quoted sources."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from django.conf import settings

from ai.llm import quote
from knowledge.sentences import question_language

SYSTEM_TEMPLATE = "system_prompt/{game}.j2"
DEFAULT_SYSTEM_TEMPLATE = "system_prompt/default.j2"
USER_TEMPLATE = "coach/user_prompt.j2"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the conversation."""

    question: str
    answer: str


def prompt_build(
    *,
    game: str,
    question: str,
    sources: Sequence[object] = (),
    history: Sequence[object] = (),
    game_name: str | None = None,
) -> tuple[str, str]:
    """The (system, user) texts for one question.

    sources: ranked best first; objects or mappings with title, text and optionally url and
    start_time (knowledge's ChunkHit). They become numbered, fenced sources [1], [2]...
    history: the conversation's earlier turns, oldest first (Turn, QuestionLog rows, mappings with
    question/answer, or (question, answer) pairs); only the last settings.COACH_HISTORY_TURNS are used.
    """
    language = question_language(question)
    name = game_name or game
    turns = history_turns(history)
    system = _system_template(game).render(game=game, game_name=name, language=language)
    user = (
        _environment()
        .get_template(USER_TEMPLATE)
        .render(
            game=game,
            game_name=quote(name),
            language=language,
            question=quote(question.strip()),
            sources=[_source(item) for item in sources],
            history=[Turn(quote(t.question), quote(t.answer)) for t in turns],
        )
    )
    return system.strip(), user.strip()


def history_turns(history: Sequence[object]) -> list[Turn]:
    """The conversation's last settings.COACH_HISTORY_TURNS turns (oldest first) as Turn."""
    keep = settings.COACH_HISTORY_TURNS
    return [_turn(item) for item in history][-keep:] if keep > 0 else []


def prompt_messages(
    *,
    system_role: str = "system",
    game: str,
    question: str,
    sources: Sequence[object] = (),
    history: Sequence[object] = (),
    game_name: str | None = None,
) -> list[dict[str, str]]:
    """prompt_build as chat messages; reasoning models (o-series) take system_role="developer"."""
    system, user = prompt_build(game=game, question=question, sources=sources, history=history, game_name=game_name)
    return [{"role": system_role, "content": system}, {"role": "user", "content": user}]


def _system_template(game: str) -> jinja2.Template:
    names = [DEFAULT_SYSTEM_TEMPLATE]
    if _SLUG.match(game or ""):
        names.insert(0, SYSTEM_TEMPLATE.format(game=game))
    return _environment().select_template(names)


def _environment() -> jinja2.Environment:
    return _environment_for(str(settings.COACH_PROMPT_TEMPLATES_DIR), settings.DEBUG)


@functools.lru_cache(maxsize=4)
def _environment_for(directory: str, debug: bool) -> jinja2.Environment:
    # One environment per directory keeps compiled templates in memory; outside DEBUG they are never
    # re-read from disk.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain text for a model, not HTML
        auto_reload=debug,
        trim_blocks=True,
        keep_trailing_newline=False,
        cache_size=100,
    )


def _attribute(text: object) -> str:
    return " ".join(quote(text).replace('"', "&quot;").split())


def _field(item: object, name: str, default: object = None) -> Any:  # whatever the item holds, as getattr gives it
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _source(item: object) -> dict[str, str | None]:
    start = _field(item, "start_time")
    at = None
    if start is not None:
        seconds = int(start)
        at = (
            f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            if seconds >= 3600
            else f"{seconds // 60}:{seconds % 60:02d}"
        )
    return {
        "title": _attribute(_field(item, "title", "")),
        "url": _attribute(_field(item, "url", "")),
        "at": at,
        "text": quote(_field(item, "text", "")).strip(),
    }


def _turn(item: object) -> Turn:
    if isinstance(item, Turn):
        return item
    if isinstance(item, tuple | list):
        question, answer = item
        return Turn(str(question), str(answer))
    return Turn(str(_field(item, "question", "")), str(_field(item, "answer", "")))
