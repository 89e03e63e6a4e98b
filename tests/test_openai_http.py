"""config.openai_http: the SDK over aiohttp, against the local OpenAI stand-in and a socket that refuses."""

import asyncio
import gc
import logging
import socket
import warnings

import httpx2
import openai
import pytest

from config.openai_http import async_openai
from tests.servers.openai_server import DropMidStream, OpenAIServer

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "How do I beat Malenia?"}]}


@pytest.fixture
def server():
    with OpenAIServer() as server:
        server.answer = "Roll toward her on the first flurry [1]."
        yield server


def test_the_sdk_answers_through_aiohttp(server):
    async def scenario():
        client = async_openai(api_key="sk-test", base_url=server.base_url, max_retries=0)
        return await client.chat.completions.create(**CHAT)

    completion = asyncio.run(scenario())

    assert completion.choices[0].message.content == server.answer
    assert server.chat_requests()[-1].messages == CHAT["messages"]


def test_a_loops_session_is_closed_when_the_loop_ends(server, caplog):
    """An aiohttp session left open complains when it is collected (a ResourceWarning and an asyncio
    error log); each transport closes its own when its loop shuts down."""
    clients = []

    async def scenario():
        clients.append(async_openai(api_key="sk-test", base_url=server.base_url, max_retries=0))
        await clients[0].chat.completions.create(**CHAT)

    with caplog.at_level(logging.ERROR, logger="asyncio"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        clients.clear()
        gc.collect()

    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []
    assert "Unclosed" not in caplog.text


def _refusing_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"  # closed again: nothing listens there


def test_a_refused_connection_is_a_connection_error_not_a_timeout():
    """The SDK's aiohttp transport would say ConnectTimeout (so APITimeoutError) for it."""

    async def scenario():
        client = async_openai(api_key="sk-test", base_url=_refusing_url(), max_retries=0)
        await client.chat.completions.create(**CHAT)

    with pytest.raises(openai.APIConnectionError) as caught:
        asyncio.run(scenario())

    assert not isinstance(caught.value, openai.APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)


def test_a_read_timeout_is_still_a_timeout(server):
    server.delay = 2.0

    async def scenario():
        client = async_openai(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=0.2)
        await client.chat.completions.create(**CHAT)

    with pytest.raises(openai.APITimeoutError):
        asyncio.run(scenario())


def test_an_answer_cut_off_midway_is_a_connection_error_not_a_timeout(server):
    server.enqueue(DropMidStream())

    async def scenario():
        client = async_openai(api_key="sk-test", base_url=server.base_url, max_retries=0)
        await client.chat.completions.create(**CHAT)

    with pytest.raises(openai.APIConnectionError) as caught:
        asyncio.run(scenario())

    assert not isinstance(caught.value, openai.APITimeoutError)
