"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks, scriptable per test.

It plays the documented behaviour of POST /v1/chat/completions (JSON and SSE streaming, usage with
cached and reasoning tokens, reasoning models' parameter rules) and POST /v1/embeddings, with
OpenAI's error bodies {"error": {"message", "type", "param", "code"}}. A raw ASGI app under uvicorn
in a background thread: one asyncio loop, so hundreds of concurrent slow requests cost no threads.

    with OpenAIServer() as server:
        server.answer = "Dodge into her [1]."
        server.enqueue(RateLimited(retry_after=2), ServerError())   # the next two chat calls fail
        server.retire("gpt-4o-mini")                                 # 404 model_not_found from now on
        ... point OPENAI_BASE_URL at server.base_url ...
        server.requests[-1].max_tokens                               # what was sent

Token counts use tiktoken on the real request, so usage and therefore costs are the real numbers.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import hashlib
import json
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

import uvicorn

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

# Prompt caching as documented: prompts of 1,024 tokens or more, cache hits in 128-token increments.
CACHE_MIN_TOKENS = 1024
CACHE_INCREMENT = 128
EMBEDDING_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
_WORD = re.compile(r"\S+\s*|\s+")


# --- behaviours a test queues for the next calls -------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """Answer normally: text (default: the server's `answer`), after `delay` s, `chunk_delay` s between SSE chunks."""

    text: str | None = None
    delay: float | None = None
    chunk_delay: float | None = None
    reasoning_tokens: int | None = None
    usage: bool = True  # False: no usage in the reply, as some OpenAI-compatible servers answer


@dataclass(frozen=True)
class RateLimited:
    """429 rate_limit_exceeded, with Retry-After (seconds) and/or retry-after-ms when given."""

    retry_after: float | None = None
    retry_after_ms: int | None = None


@dataclass(frozen=True)
class QuotaExhausted:
    """429 insufficient_quota: the account is out of credit; retrying does not help."""


@dataclass(frozen=True)
class ServerError:
    status: int = 500


@dataclass(frozen=True)
class Hang:
    """Accept the request and say nothing for `seconds` (or until the client gives up)."""

    seconds: float = 60.0


@dataclass(frozen=True)
class Malformed:
    """200 with a body (or an SSE chunk) that is not valid JSON."""


@dataclass(frozen=True)
class DropMidStream:
    """Start the answer, then close the TCP connection: after `after_chunks` content chunks when
    streaming, halfway through the JSON body otherwise."""

    after_chunks: int = 2


Behaviour = Reply | RateLimited | QuotaExhausted | ServerError | Hang | Malformed | DropMidStream


@dataclass
class RecordedRequest:
    """One request as the server received it, for tests to assert what was sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    received_at: float
    behaviour: str = ""
    status: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)

    def _get(self, key):
        return (self.body or {}).get(key)

    @property
    def model(self) -> str | None:
        return self._get("model")

    @property
    def messages(self) -> list[dict]:
        return self._get("messages") or []

    @property
    def max_tokens(self) -> int | None:
        return self._get("max_tokens")

    @property
    def max_completion_tokens(self) -> int | None:
        return self._get("max_completion_tokens")

    @property
    def temperature(self) -> float | None:
        return self._get("temperature")

    @property
    def stream(self) -> bool:
        return bool(self._get("stream"))

    def has(self, key: str) -> bool:
        return key in (self.body or {})


class _DropConnection(Exception):
    """Raised inside the app to make uvicorn close the socket mid-response (a dropped connection)."""


class _QuietDrop(logging.Filter):
    # uvicorn logs an app exception as an error; a deliberate drop is not one.
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _DropConnection))


_QUIET_DROP = _QuietDrop()


def _error(status: int, message: str, type_: str, code: str | None = None, param: str | None = None):
    return status, {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _encoding(model: str):
    from ai.tokens import encoding_for

    return encoding_for(model)


@functools.lru_cache(maxsize=64)  # the texts that repeat are few; the players' messages are new each time
def _tokens(encoding, text: str) -> tuple[int, ...]:
    """`text`'s tokens, remembered: a coach's system prompt and this server's answer are the same in
    every call, and encoding them each time cost ~50 us a call (this server is also the benchmarks' stand-in)."""
    return tuple(encoding.encode(text, disallowed_special=()))


def message_tokens(messages: list[dict], model: str) -> list[int]:
    """The prompt as one token sequence: OpenAI's format of role and content per message."""
    enc = _encoding(model)
    tokens: list[int] = []
    for message in messages:
        tokens += [0, 0, 0]  # <|start|>role<|message|> framing, as in OpenAI's token-counting guide
        for key, value in message.items():
            text = value if isinstance(value, str) else _content_text(value)
            tokens += _tokens(enc, text)
            if key == "name":
                tokens.append(0)
    return [*tokens, 0, 0, 0]  # every reply is primed with <|start|>assistant<|message|>


def _content_text(value) -> str:
    if isinstance(value, list):  # content parts [{"type": "text", "text": ...}]
        return "".join(part.get("text", "") for part in value if isinstance(part, dict))
    return "" if value is None else str(value)


class OpenAIServer:
    """Start with start() or `with`; base_url is http://127.0.0.1:<port>/v1."""

    def __init__(self, *, delay: float = 0.0, chunk_delay: float = 0.0, api_key: str | None = None):
        self.answer = "Stay close and dodge through her attacks at the last moment [1]."
        self.delay = delay  # seconds before every reply (benchmarks: a slow model)
        self.chunk_delay = chunk_delay  # seconds between streamed chunks
        self.api_key = api_key  # when set, other keys get OpenAI's 401 invalid_api_key
        self.default_reasoning_tokens = 64
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0  # the most requests the server was answering at once
        self._queues: dict[str, collections.deque] = {
            CHAT_PATH: collections.deque(),
            EMBEDDINGS_PATH: collections.deque(),
        }
        self._retired: set[str] = set()
        self._cache_prefixes: dict[str, set[bytes]] = collections.defaultdict(set)
        self._lock = threading.Lock()
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- control from the test ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *behaviours: Behaviour, path: str = CHAT_PATH) -> None:
        """The next len(behaviours) calls to `path` behave so, in order; later calls answer normally."""
        self._queues[path].extend(behaviours)

    def retire(self, *models: str) -> None:
        """Chat calls for these models get 404 model_not_found, as for a retired model."""
        self._retired.update(models)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == CHAT_PATH]

    def reset(self) -> None:
        for queue in self._queues.values():
            queue.clear()
        self._retired.clear()
        self._cache_prefixes.clear()
        self.requests.clear()
        self.peak_in_flight = 0

    def start(self) -> OpenAIServer:
        # IPPROTO_TCP, not 0: asyncio turns TCP_NODELAY on only for sockets that say they are TCP, and
        # without it every keep-alive answer after the first waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            http="httptools",  # C parser: ~0.2 ms less CPU a call than h11 (the benchmarks run hundreds a second)
            lifespan="off",
            proxy_headers=False,
            access_log=False,
            log_level="warning",
            log_config=None,
            backlog=4096,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DROP)  # the same object: added once
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="openai-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the OpenAI test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be gone
                loop.call_soon_threadsafe(stopping.set)  # wake requests that hang
        self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the ASGI app ---------------------------------------------------------------------------
    async def _app(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if self._stopping is None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(scope["method"], scope["path"], headers, body, time.time())
        self.requests.append(record)
        watcher = asyncio.ensure_future(self._watch_disconnect(receive, record))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await self._handle(record, send)
        finally:
            self.in_flight -= 1
            watcher.cancel()

    async def _watch_disconnect(self, receive, record: RecordedRequest) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                record.disconnected.set()
                return

    async def _handle(self, record: RecordedRequest, send) -> None:
        if record.method != "POST" or record.path not in (CHAT_PATH, EMBEDDINGS_PATH):
            return await self._fail(
                record, send, 404, f"Invalid URL ({record.method} {record.path})", "invalid_request_error"
            )
        if self.api_key is not None and record.headers.get("authorization") != f"Bearer {self.api_key}":
            return await self._fail(
                record, send, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if not isinstance(record.body, dict):
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                "your HTTP library correctly.)"
            )
            return await self._fail(record, send, 400, message, "invalid_request_error")
        try:
            behaviour = self._queues[record.path].popleft()
        except IndexError:
            behaviour = Reply()
        record.behaviour = type(behaviour).__name__
        if await self._failure(record, behaviour, send):
            return
        if record.path == EMBEDDINGS_PATH:
            return await self._embeddings(record, send)
        return await self._chat(record, behaviour, send)

    async def _failure(self, record: RecordedRequest, behaviour: Behaviour, send) -> bool:
        """Plays a scripted failure; True when the request has been answered by it."""
        model = record.body.get("model")
        if isinstance(behaviour, RateLimited):
            headers = {}
            if behaviour.retry_after is not None:
                headers["retry-after"] = f"{behaviour.retry_after:g}"
            if behaviour.retry_after_ms is not None:
                headers["retry-after-ms"] = str(behaviour.retry_after_ms)
            message = (
                f"Rate limit reached for {model} in organization org-test on requests per min (RPM): "
                "Limit 3, Used 3, Requested 1. Please try again later."
            )
            await self._fail(record, send, 429, message, "requests", "rate_limit_exceeded", headers=headers)
        elif isinstance(behaviour, QuotaExhausted):
            message = (
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
            )
            await self._fail(record, send, 429, message, "insufficient_quota", "insufficient_quota")
        elif isinstance(behaviour, ServerError):
            message = "The server had an error while processing your request. Sorry about that!"
            await self._fail(record, send, behaviour.status, message, "server_error")
        elif isinstance(behaviour, Hang):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_gone(record), behaviour.seconds)
            if not record.disconnected.is_set():
                await self._fail(record, send, 500, "The server hung.", "server_error")
        elif isinstance(behaviour, Malformed) and not record.body.get("stream"):
            await self._raw(
                record, send, 200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"ind'
            )
        elif record.path == CHAT_PATH and model in self._retired:
            message = f"The model `{model}` does not exist or you do not have access to it."
            await self._fail(record, send, 404, message, "invalid_request_error", "model_not_found")
        else:
            return False
        return True

    async def _until_gone(self, record: RecordedRequest) -> None:
        while not record.disconnected.is_set() and not self._stopping.is_set():
            await asyncio.sleep(0.02)

    # --- chat completions -----------------------------------------------------------------------
    async def _chat(self, record: RecordedRequest, behaviour: Behaviour, send) -> None:
        body = record.body
        model, messages = body.get("model"), body.get("messages")
        if not model:
            return await self._fail(record, send, 400, "you must provide a model parameter", "invalid_request_error")
        if not isinstance(messages, list) or not messages:
            return await self._fail(
                record,
                send,
                400,
                "Missing required parameter: 'messages'.",
                "invalid_request_error",
                "missing_required_parameter",
                "messages",
            )
        reasoning = bool(_REASONING_MODEL.match(model))
        if reasoning and "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            return await self._fail(
                record, send, 400, message, "invalid_request_error", "unsupported_parameter", "max_tokens"
            )
        if reasoning and body.get("temperature") not in (None, 1):
            message = (
                f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                "Only the default (1) value is supported."
            )
            return await self._fail(
                record, send, 400, message, "invalid_request_error", "unsupported_value", "temperature"
            )

        reply = behaviour if isinstance(behaviour, Reply) else Reply()
        delay = self.delay if reply.delay is None else reply.delay
        if delay:
            await asyncio.sleep(delay)
        prompt = message_tokens(messages, model)
        usage = {"prompt_tokens": len(prompt), "cached_tokens": self._cached_tokens(model, prompt)}
        text, finish = self._completion(body, model, reasoning, reply, usage)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        usage_body = {
            "prompt_tokens": usage["prompt_tokens"],
            "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"], "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": usage["reasoning_tokens"],
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        if not body.get("stream"):
            answer = self._json if not isinstance(behaviour, DropMidStream) else self._json_cut_short
            return await answer(
                record,
                send,
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": finish,
                            "logprobs": None,
                            "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                        }
                    ],
                    "usage": usage_body if reply.usage else None,
                    "service_tier": "default",
                    "system_fingerprint": "fp_local",
                },
            )
        chunk_delay = self.chunk_delay if reply.chunk_delay is None else reply.chunk_delay
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage
        await self._stream(
            record, send, completion_id, model, text, finish, usage_body, include_usage, chunk_delay, behaviour
        )

    def _completion(self, body: dict, model: str, reasoning: bool, reply: Reply, usage: dict) -> tuple[str, str]:
        """The answer text cut to the response limit, as the model would stop; fills the usage counts."""
        enc = _encoding(model)
        text = self.answer if reply.text is None else reply.text
        tokens = _tokens(enc, text)
        limit = (
            body.get("max_completion_tokens")
            if reasoning
            else body.get("max_tokens", body.get("max_completion_tokens"))
        )
        reasoning_tokens = 0
        if reasoning:
            reasoning_tokens = (
                self.default_reasoning_tokens if reply.reasoning_tokens is None else reply.reasoning_tokens
            )
            if limit is not None:
                reasoning_tokens = min(reasoning_tokens, limit)
        finish = "stop"
        if limit is not None and len(tokens) + reasoning_tokens > limit:
            # Reasoning tokens come out of the same budget; a model that thinks too long answers nothing.
            tokens, finish = tokens[: max(0, limit - reasoning_tokens)], "length"
            text = enc.decode(list(tokens))
        usage["completion_tokens"] = len(tokens) + reasoning_tokens
        usage["reasoning_tokens"] = reasoning_tokens
        return text, finish

    def _cached_tokens(self, model: str, prompt: list[int]) -> int:
        """OpenAI's automatic prompt caching: the longest earlier-seen prefix, >= 1024, in steps of 128."""
        if len(prompt) < CACHE_MIN_TOKENS:
            return 0
        digest, cached, seen = hashlib.blake2b(digest_size=16), 0, self._cache_prefixes[model]
        packed = struct.pack(f"<{len(prompt)}I", *prompt)
        for end in range(CACHE_INCREMENT, len(prompt) + 1, CACHE_INCREMENT):
            digest.update(packed[(end - CACHE_INCREMENT) * 4 : end * 4])
            if end < CACHE_MIN_TOKENS:
                continue
            key = digest.copy().digest()
            with self._lock:
                if key in seen:
                    cached = end
                else:
                    seen.add(key)
        return cached

    async def _stream(
        self, record, send, completion_id, model, text, finish, usage, include_usage, chunk_delay, behaviour
    ) -> None:
        created = int(time.time())

        def chunk(delta: dict, finish_reason=None, choices=True, usage_value=None) -> bytes:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_local",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
                if choices
                else [],
            }
            if include_usage:
                data["usage"] = usage_value
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-request-id", f"req_{uuid.uuid4().hex}".encode()),
                ],
            }
        )
        record.status = 200
        await send(
            {
                "type": "http.response.body",
                "body": chunk({"role": "assistant", "content": "", "refusal": None}),
                "more_body": True,
            }
        )
        for index, piece in enumerate(_WORD.findall(text)):
            if isinstance(behaviour, DropMidStream) and index >= behaviour.after_chunks:
                raise _DropConnection
            if isinstance(behaviour, Malformed) and index >= 1:
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'data: {"id": "chatcmpl-broken", "choices": [{\n\n',
                        "more_body": True,
                    }
                )
                break
            if chunk_delay:
                await asyncio.sleep(chunk_delay)
            if record.disconnected.is_set():
                return
            await send({"type": "http.response.body", "body": chunk({"content": piece}), "more_body": True})
        else:
            if isinstance(behaviour, DropMidStream):
                raise _DropConnection
        tail = chunk({}, finish)
        if include_usage:
            tail += chunk({}, choices=False, usage_value=usage)
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})

    # --- embeddings -----------------------------------------------------------------------------
    async def _embeddings(self, record: RecordedRequest, send) -> None:
        body = record.body
        model, inputs = body.get("model"), body.get("input")
        if not model:
            return await self._fail(record, send, 400, "you must provide a model parameter", "invalid_request_error")
        if model not in EMBEDDING_DIMS or model in self._retired:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return await self._fail(record, send, 404, message, "invalid_request_error", "model_not_found")
        full = EMBEDDING_DIMS[model]
        dims = body.get("dimensions")
        if dims is not None:
            if model == "text-embedding-ada-002":
                return await self._fail(
                    record,
                    send,
                    400,
                    "This model does not support specifying dimensions.",
                    "invalid_request_error",
                    param="dimensions",
                )
            if not isinstance(dims, int) or not 1 <= dims <= full:
                return await self._fail(
                    record,
                    send,
                    400,
                    f"Invalid value for 'dimensions': must be between 1 and {full}.",
                    "invalid_request_error",
                    "invalid_value",
                    "dimensions",
                )
        dims = dims or full
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or len(inputs) > 2048:
            return await self._fail(
                record,
                send,
                400,
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                "invalid_request_error",
            )
        enc = _encoding("text-embedding-3-small")  # every embedding model counts with cl100k_base
        data, tokens = [], 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else enc.decode(list(item))
            tokens += len(item) if isinstance(item, list) else len(enc.encode(text, disallowed_special=()))
            vector = embedding_vector(text, dims)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        await self._json(
            record,
            send,
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # --- responses ------------------------------------------------------------------------------
    async def _fail(self, record, send, status: int, message: str, type_: str, code=None, param=None, headers=None):
        await self._json(record, send, *_error(status, message, type_, code, param), headers=headers)

    async def _json(self, record, send, status: int, payload: dict, headers: dict | None = None) -> None:
        extra = {"x-request-id": f"req_{uuid.uuid4().hex}", **(headers or {})}
        await self._raw(record, send, status, json.dumps(payload, ensure_ascii=False).encode(), extra)

    async def _json_cut_short(self, record, send, status: int, payload: dict) -> None:
        """Announce the whole body, send half of it, then drop the connection."""
        body = json.dumps(payload).encode()
        record.status = status
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise _DropConnection

    async def _raw(self, record, send, status: int, body: bytes, headers: dict | None = None) -> None:
        record.status = status
        header_list = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        header_list += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": header_list})
        await send({"type": "http.response.body", "body": body})


def embedding_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector from hashed words and character trigrams: similar texts land close."""
    values = [0.0] * dims
    lowered = text.lower()
    features = lowered.split() + [lowered[i : i + 3] for i in range(max(0, len(lowered) - 2))] or ["<empty>"]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little")
        values[slot % dims] += 1.0 if digest[4] & 1 else -1.0
        values[(slot >> 7) % dims] += 0.5 if digest[5] & 1 else -0.5
    norm = math.hypot(*values) or 1.0
    return [v / norm for v in values]
