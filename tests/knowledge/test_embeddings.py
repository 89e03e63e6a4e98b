"""Embedding providers: the real OpenAI SDK against the local server, and the offline hashed n-grams."""

import asyncio
import math

import openai
import pytest

from ai.embeddings import OFFLINE_MODEL_NAME, EmbeddingError, OfflineEmbedder, OpenAIEmbedder, get_embedder
from tests.servers.openai_server import EMBEDDINGS_PATH, Malformed, RateLimited, ServerError


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_without_a_key_the_offline_provider_is_used(settings):
    settings.OPENAI_API_KEY = ""
    embedder = get_embedder()
    assert embedder.model_name == OFFLINE_MODEL_NAME
    assert embedder.dim == settings.EMBEDDING_DIM


def test_offline_vectors_are_deterministic_unit_vectors_of_the_configured_size():
    embedder = OfflineEmbedder(384)
    first, second = (
        embedder.embed(["말레니아 2페이즈", "말레니아 2페이즈"]),
        OfflineEmbedder(384).embed(["말레니아 2페이즈"]),
    )
    assert first[0] == first[1] == second[0]
    assert len(first[0]) == 384
    assert math.isclose(math.sqrt(sum(v * v for v in first[0])), 1.0, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("question", "related", "unrelated"),
    [
        (
            "말레니아 2페이즈 어떻게 피해요?",
            "말레니아의 2페이즈 물새 난무를 피하는 법",
            "정글 동선 추천과 바위게 타이밍",
        ),
        ("best jungle path this patch?", "The best jungle paths this patch: full clear", "Malenia's Waterfowl Dance"),
    ],
)
def test_offline_vectors_put_related_korean_and_english_text_closer(question, related, unrelated):
    embedder = OfflineEmbedder(384)
    q, near, far = embedder.embed([question, related, unrelated])
    assert _cosine(q, near) > _cosine(q, far) + 0.1


def test_offline_aembed_matches_embed():
    embedder = OfflineEmbedder(64)
    assert asyncio.run(embedder.aembed(["a b c"])) == embedder.embed(["a b c"])


def test_with_a_key_openai_is_called_in_batches_with_the_configured_dimensions(openai_embeddings, settings):
    # given a batch size of 4 and 10 texts
    settings.EMBEDDING_BATCH_SIZE = 4
    embedder = get_embedder()
    texts = [f"guide paragraph number {i}" for i in range(10)]
    # when they are embedded
    vectors = embedder.embed(texts)
    # then three requests carried 4 + 4 + 2 inputs with dimensions = EMBEDDING_DIM, one unit vector per text
    requests = [r for r in openai_embeddings.requests if r.path == EMBEDDINGS_PATH]
    assert [len(r.body["input"]) for r in requests] == [4, 4, 2]
    assert {r.body["dimensions"] for r in requests} == {settings.EMBEDDING_DIM}
    assert {r.body["model"] for r in requests} == {"text-embedding-3-small"}
    assert requests[0].headers["authorization"] == "Bearer sk-test-knowledge"
    assert len(vectors) == 10
    assert all(len(v) == settings.EMBEDDING_DIM for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-6) for v in vectors)
    assert embedder.model_name == "text-embedding-3-small"


def test_openai_vectors_keep_the_order_of_the_texts(openai_embeddings):
    embedder = get_embedder()
    together = embedder.embed(["first text", "second text"])
    alone = embedder.embed(["second text"])
    assert together[1] == pytest.approx(alone[0])


def test_async_embeddings_use_the_async_client(openai_embeddings):
    embedder = get_embedder()
    vectors = asyncio.run(embedder.aembed(["말레니아 2페이즈 어떻게 피해요?"]))
    assert vectors[0] == pytest.approx(embedder.embed(["말레니아 2페이즈 어떻게 피해요?"])[0])


def test_a_rate_limit_reaches_the_caller_as_openais_error(openai_embeddings):
    openai_embeddings.enqueue(RateLimited(retry_after=0), path=EMBEDDINGS_PATH)
    with pytest.raises(openai.RateLimitError):
        get_embedder().embed(["text"])


def test_a_reply_that_is_not_an_embeddings_response_is_an_embedding_error(openai_embeddings):
    openai_embeddings.enqueue(Malformed(), path=EMBEDDINGS_PATH)  # 200 with a body cut short (not JSON)
    with pytest.raises(EmbeddingError, match="not an embeddings response"):
        get_embedder().embed(["text"])
    openai_embeddings.enqueue(Malformed(), path=EMBEDDINGS_PATH)
    with pytest.raises(EmbeddingError, match="not an embeddings response"):
        asyncio.run(get_embedder().aembed(["text", "more text"]))
    assert len(get_embedder().embed(["text"])) == 1  # the next reply is read as usual


def test_the_sdks_own_retries_ride_out_a_single_server_error(openai_embeddings, settings):
    settings.EMBEDDING_MAX_RETRIES = 2
    openai_embeddings.enqueue(ServerError(), path=EMBEDDINGS_PATH)
    assert len(get_embedder().embed(["text"])) == 1
    assert [r.status for r in openai_embeddings.requests] == [500, 200]


def test_a_wrong_key_is_an_authentication_error(openai_embeddings, settings):
    settings.OPENAI_API_KEY = "sk-wrong"
    with pytest.raises(openai.AuthenticationError):
        get_embedder().embed(["text"])


def test_an_empty_text_is_refused_before_any_request(openai_embeddings):
    with pytest.raises(ValueError, match="empty"):
        get_embedder().embed(["fine", "  "])
    assert openai_embeddings.requests == []


def test_a_text_over_the_input_limit_is_cut_not_refused(openai_embeddings):
    embedder = OpenAIEmbedder(
        api_key="sk-test-knowledge", base_url=openai_embeddings.base_url, model="text-embedding-3-small", dim=64,
        batch_size=8, timeout=10, max_retries=0,
    )  # fmt: skip
    embedder.embed(["word " * 9000])
    sent = openai_embeddings.requests[-1].body["input"][0]
    from ai.tokens import count_tokens

    assert count_tokens(sent, "text-embedding-3-small") <= 8191


def _ask_together(embedder, questions: list[str]) -> list:
    async def together():
        return await asyncio.gather(*(embedder.aembed([q]) for q in questions), return_exceptions=True)

    return asyncio.run(together())


def test_questions_asked_at_once_share_embedding_requests_and_each_gets_its_own_vector(openai_embeddings, settings):
    settings.EMBEDDING_BATCH_SIZE = 4
    embedder = get_embedder()
    questions = [f"how do I beat boss number {i}?" for i in range(11)]

    answers = _ask_together(embedder, questions)

    requests = [r for r in openai_embeddings.requests if r.path == EMBEDDINGS_PATH]
    assert [r.body["input"] for r in requests] == [questions[0:4], questions[4:8], questions[8:11]]
    alone = embedder.embed(questions)
    assert [vectors[0] for vectors in answers] == [pytest.approx(vector) for vector in alone]


def test_a_failed_shared_request_fails_just_the_questions_it_carried(openai_embeddings, settings):
    settings.EMBEDDING_BATCH_SIZE = 2
    settings.EMBEDDING_MAX_RETRIES = 0
    openai_embeddings.enqueue(RateLimited(retry_after=0), path=EMBEDDINGS_PATH)
    embedder = get_embedder()

    answers = _ask_together(embedder, ["first?", "second?", "third?"])

    assert [type(answer).__name__ for answer in answers] == ["RateLimitError", "RateLimitError", "list"]
    assert asyncio.run(embedder.aembed(["and later?"]))[0] == pytest.approx(embedder.embed(["and later?"])[0])


def test_a_shared_embedding_request_runs_outside_every_askers_request_context():
    from ai.embeddings import _Batcher
    from config.observability import context

    seen = []

    async def send(texts):
        seen.append((context.request_id_get(), list(texts)))
        await asyncio.sleep(0)
        return [[float(len(text))] for text in texts]

    async def ask(batcher, request_id, text):
        context.current.set(context.RequestContext(request_id=request_id))
        return await batcher.embed(text)

    async def together():
        batcher = _Batcher(send, size=8)
        return await asyncio.gather(ask(batcher, "first-asker", "a?"), ask(batcher, "second-asker", "bb?"))

    assert asyncio.run(together()) == [[2.0], [3.0]]
    assert seen == [(None, ["a?", "bb?"])]  # one request for both askers, in neither's context
