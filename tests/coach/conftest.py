"""What the coach's tests share: the ask endpoint, the demo content, and one way to ask."""

import pytest

from coach.services.cache import aquestion_cached
from dev.demo.loader import demo_load

ASK = "/api/coach/ask"
MALENIA = "말레니아 2페이즈 어떻게 피해요?"


@pytest.fixture
def demo(db):
    """The demo games, guides and video subtitles (dev.demo)."""
    demo_load()


def ask(client, question=MALENIA, game="elden-ring", **extra):
    """The question POSTed to the ask endpoint as the app sends it (JSON)."""
    return client.post(ASK, {"game": game, "question": question, **extra}, format="json")


async def exact_answer_read(**scope) -> dict | None:
    """The exact cache's answer for scope (user_id, game, question...), read as the ask reads it
    (coach.services.cache.question), with no embedding asked for."""
    return (await aquestion_cached(scope=scope, model_name=None, question=scope["question"])).answer
