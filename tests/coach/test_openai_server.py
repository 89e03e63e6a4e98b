"""The local OpenAI-compatible server plays OpenAI's documented rules, so tests against it mean something."""

import math

import openai
import pytest

from tests.servers.openai_server import OpenAIServer


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def client(server):
    server.reset()
    return openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_are_deterministic_unit_vectors_batched_in_order(client):
    texts = ["Malenia phase 2 dodge", "Malenia phase two dodging", "best jungle path for Lee Sin"]

    first = client.embeddings.create(model="text-embedding-3-small", input=texts)
    again = client.embeddings.create(model="text-embedding-3-small", input=texts[0])

    vectors = [d.embedding for d in first.data]
    assert [d.index for d in first.data] == [0, 1, 2] and all(len(v) == 1536 for v in vectors)
    assert all(math.isclose(cosine(v, v), 1.0, rel_tol=1e-6) for v in vectors)
    assert again.data[0].embedding == pytest.approx(vectors[0], rel=1e-6)  # base64 by default, decoded by the SDK
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])  # similar text lands closer
    assert first.usage.prompt_tokens == first.usage.total_tokens > 0


def test_embeddings_honour_dimensions_and_refuse_it_for_ada(client):
    short = client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=256)
    assert len(short.data[0].embedding) == 256

    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="text-embedding-ada-002", input="hello", dimensions=256)
    assert caught.value.param == "dimensions"


def test_reasoning_models_refuse_max_tokens_and_temperature_like_openai(client):
    messages = [{"role": "user", "content": "hi"}]

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="o4-mini", messages=messages, max_tokens=10)
    assert caught.value.code == "unsupported_parameter" and caught.value.param == "max_tokens"

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="o4-mini", messages=messages, temperature=0.2)
    assert caught.value.code == "unsupported_value"

    ok = client.chat.completions.create(model="o4-mini", messages=messages, max_completion_tokens=10)
    # the reasoning spent the whole budget: no visible answer, finish_reason "length"
    assert ok.choices[0].finish_reason == "length" and ok.usage.completion_tokens_details.reasoning_tokens == 10


def test_a_wrong_api_key_gets_401_invalid_api_key(server):
    server.api_key = "sk-right"
    try:
        wrong = openai.OpenAI(api_key="sk-wrong", base_url=server.base_url, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            wrong.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.code == "invalid_api_key"
    finally:
        server.api_key = None


def test_every_request_is_recorded_with_its_headers(client, server):
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=7, temperature=0.5
    )
    request = server.requests[-1]
    assert (request.model, request.max_tokens, request.temperature) == ("gpt-4o-mini", 7, 0.5)
    assert request.headers["authorization"] == "Bearer sk-test" and request.status == 200
