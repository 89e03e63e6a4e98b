"""Streamed answers through the real openai SDK: deltas, final usage, retries before the first word, hang-ups."""

import asyncio
import dataclasses
from decimal import Decimal

import pytest

from ai.errors import AIBadResponse, AIQuotaExhausted, AIStreamInterrupted
from ai.llm import async_clients_close
from ai.tokens import count_tokens
from billing.plans import plan_get
from coach.services.llm import call as llm_call
from coach.services.llm.call import chat_completion
from coach.services.llm.fit import prompt_token_count
from coach.services.llm.result import LLMResult
from coach.services.llm.stream import ChatStream
from tests.servers.openai_server import DropMidStream, Malformed, OpenAIServer, QuotaExhausted, Reply, ServerError

ANSWER = "Roll toward her during Waterfowl Dance, then punish the recovery with a jump attack [1]."


@pytest.fixture
def server(settings):
    with OpenAIServer() as server:
        settings.OPENAI_API_KEY = "sk-test-key"
        settings.OPENAI_BASE_URL = server.base_url
        server.answer = ANSWER
        yield server
    llm_call._retired.clear()


class Sleeps:
    def __init__(self):
        self.delays = []

    async def __call__(self, seconds):
        self.delays.append(seconds)


def run(coro):
    async def main():
        try:
            return await coro
        finally:
            await async_clients_close()

    return asyncio.run(main())


async def collect(plan=None, sleeps=None, **kwargs) -> tuple[list[str], LLMResult]:
    stream = await chat_completion(
        plan=plan or plan_get("free"),
        game="elden-ring",
        question="How do I dodge Waterfowl Dance?",
        sources=[{"title": "Malenia guide", "url": "", "text": "Run, then roll through the third flurry."}],
        stream=True,
        sleep=sleeps or Sleeps(),
        **kwargs,
    )
    assert isinstance(stream, ChatStream)
    deltas, final = [], None
    async with stream:
        async for item in stream:
            if isinstance(item, LLMResult):
                final = item
            else:
                assert final is None  # nothing after the result
                deltas.append(item)
    return deltas, final


def test_stream_yields_text_deltas_then_the_result_with_usage_from_the_final_chunk(server):
    deltas, result = run(collect())

    assert len(deltas) > 5 and "".join(deltas) == ANSWER == result.text
    sent = server.chat_requests()[-1]
    assert sent.stream and sent.body["stream_options"] == {"include_usage": True}
    assert result.prompt_tokens == prompt_token_count(sent.messages, "gpt-4o-mini")
    assert result.completion_tokens == count_tokens(ANSWER, "gpt-4o-mini")
    assert result.cost_usd == (
        Decimal(result.prompt_tokens) * Decimal("0.15") + Decimal(result.completion_tokens) * Decimal("0.60")
    ) / Decimal(1_000_000)
    assert (result.finish_reason, result.attempts, result.sources_used) == ("stop", 1, 1)


def test_failures_before_the_first_word_are_retried_on_the_schedule(server):
    server.enqueue(ServerError(), DropMidStream(after_chunks=0))
    sleeps = Sleeps()

    deltas, result = run(collect(sleeps=sleeps))

    assert sleeps.delays == [1.0, 2.0]
    assert "".join(deltas) == ANSWER and result.attempts == 3


def test_a_connection_dropped_mid_answer_raises_stream_interrupted_after_the_words_sent(server):
    server.enqueue(DropMidStream(after_chunks=3))
    received = []

    async def consume():
        stream = await chat_completion(plan=plan_get("free"), game="elden-ring", question="q", stream=True)
        async with stream:
            async for item in stream:
                received.append(item)

    with pytest.raises(AIStreamInterrupted) as caught:
        run(consume())

    assert (caught.value.status, caught.value.code) == (503, "ai_stream_interrupted")
    assert "".join(received) == "Roll toward her "  # what the player already saw; no retry mid-answer
    assert len(server.chat_requests()) == 1


def test_a_malformed_chunk_mid_stream_is_a_bad_response(server):
    server.enqueue(Malformed())

    with pytest.raises(AIBadResponse):
        run(collect())


def test_quota_exhausted_fails_before_the_stream_starts(server):
    server.enqueue(QuotaExhausted())
    sleeps = Sleeps()

    with pytest.raises(AIQuotaExhausted):
        run(collect(sleeps=sleeps))
    assert sleeps.delays == []


def test_a_retired_model_streams_from_the_fallback(server):
    server.retire("gpt-4o-mini")

    deltas, result = run(collect())

    assert result.model == "o4-mini" and result.fallback_used and "".join(deltas) == ANSWER
    assert result.reasoning_tokens == server.default_reasoning_tokens


def test_the_response_limit_applies_to_streams(server):
    plan = dataclasses.replace(plan_get("free"), response_tokens=4)

    _deltas, result = run(collect(plan=plan))

    assert server.chat_requests()[-1].max_tokens == 4
    assert result.completion_tokens == 4 and result.finish_reason == "length"


def test_a_player_who_hangs_up_stops_the_llm_call(server):
    # given a slow model: one chunk every 0.2 s
    server.enqueue(Reply(text="word " * 200, chunk_delay=0.2))
    first_word = asyncio.Event

    async def scenario():
        got_one = first_word()

        async def consume():
            stream = await chat_completion(plan=plan_get("free"), game="elden-ring", question="q", stream=True)
            async for _item in stream:  # like a view that forwards deltas; no explicit close
                got_one.set()

        task = asyncio.create_task(consume())
        await got_one.wait()
        # when the client disconnects, the server cancels the view's task
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # then the connection to the LLM is closed (while the shared client lives on), long before
        # the 200 words were produced
        request = server.chat_requests()[-1]
        assert await asyncio.to_thread(request.disconnected.wait, 5)
        return request

    request = run(scenario())
    assert request.status == 200


def test_closing_the_stream_early_closes_the_connection(server):
    server.enqueue(Reply(text="word " * 200, chunk_delay=0.05))

    async def scenario():
        stream = await chat_completion(plan=plan_get("free"), game="elden-ring", question="q", stream=True)
        async with stream:
            async for _item in stream:
                break
        assert await asyncio.to_thread(server.chat_requests()[-1].disconnected.wait, 5)

    run(scenario())
