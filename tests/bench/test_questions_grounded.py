"""The benchmark's miss questions are ones the demo guides cover: a "not covered" answer makes no LLM call,
so a miss run full of them would measure a cheaper path than a real miss."""

import pytest

from bench.load import GAMES
from coach.models import QuestionLog
from dev.demo.loader import demo_load
from tests.coach.conftest import ask
from tests.conftest import bearer_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("game", "template"), [(game, t) for game, templates in GAMES.items() for t in templates])
def test_every_miss_question_of_the_benchmark_reaches_the_llm(game, template, openai_server):
    demo_load()  # embedded through the stand-in's model, as the benchmark's app embeds its questions

    body = ask(bearer_client(UserFactory()), question=template.format(n=123457), game=game).json()

    assert body["grounded"] is True, body["answer"]
    assert body["model"] == "gpt-4o-mini"
    assert QuestionLog.objects.get(id=body["id"]).prompt_tokens > 0
