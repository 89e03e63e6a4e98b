"""Token counts with tiktoken, working offline: the encodings come from the bpe-openai package."""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
import threading
from importlib import resources

import tiktoken
from django.conf import settings

# tiktoken downloads these blobs on first use and caches each under sha1(url) in TIKTOKEN_CACHE_DIR;
# bpe-openai ships byte-identical gzip copies, which we place there so no download ever happens.
_ENCODING_BLOBS = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
# Models tiktoken does not know (our offline embedder, a new chat model) count like today's chat models.
DEFAULT_ENCODING = "o200k_base"
_install_lock = threading.Lock()


def _cache_dir() -> str:
    # tiktoken reads the variable itself; settings.TIKTOKEN_CACHE_DIR (from the same env) is the default.
    path = os.environ.get("TIKTOKEN_CACHE_DIR") or settings.TIKTOKEN_CACHE_DIR
    os.environ["TIKTOKEN_CACHE_DIR"] = path
    return path


def install_offline_encodings() -> str:
    """Put the shipped encodings into tiktoken's cache (idempotent); returns the cache directory."""
    cache_dir = _cache_dir()
    with _install_lock:
        os.makedirs(cache_dir, exist_ok=True)
        for name, (url, sha256) in _ENCODING_BLOBS.items():
            target = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())  # noqa: S324 - tiktoken's key
            if os.path.exists(target) and _sha256_file(target) == sha256:
                continue
            data = gzip.decompress(resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").read_bytes())
            if hashlib.sha256(data).hexdigest() != sha256:
                raise RuntimeError(f"bpe-openai's {name} does not match tiktoken's expected hash")
            temporary = f"{target}.{os.getpid()}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)  # atomic: a concurrent reader never sees half a file
    return cache_dir


def _sha256_file(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@functools.lru_cache(maxsize=8)
def _encoding(name: str) -> tiktoken.Encoding:
    install_offline_encodings()
    return tiktoken.get_encoding(name)


def encoding_name_for(model: str) -> str:
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING


def encoding_for(model: str) -> tiktoken.Encoding:
    """The tokenizer of `model` (o200k_base for gpt-4o*/o4-mini, cl100k_base for text-embedding-3-*)."""
    return _encoding(encoding_name_for(model))


def count_tokens(text: str, model: str) -> int:
    return _tokens_in(text, encoding_name_for(model))


def _tokens_in(text: str, encoding_name: str) -> int:
    # Special-token text in a guide is just text: never refuse it, count it as the API would bill it.
    return len(_encoding(encoding_name).encode(text, disallowed_special=()))


# Where a text's token count splits exactly: after a line break, before anything but whitespace or "/".
# tiktoken cuts a text into pieces with its encoding's regex and encodes each piece on its own, and in
# both encodings (cl100k_base, o200k_base) a piece holding a line break ends at the last break of its
# run, or (o200k_base: punctuation, breaks, then "/") at a "/" right after one. So no piece crosses
# such a point, and the count of the whole is the sum of the counts of the parts.
_PIECE_BREAK = re.compile(r"(?<=\n)(?=[^\s/])")


_part_tokens = functools.lru_cache(maxsize=8192)(_tokens_in)  # a prompt's lines, counted once each


def count_tokens_by_line(text: str, model: str) -> int:
    """count_tokens, exactly, for texts that repeat most of their lines (prompts: the rules and the quoted
    guide passages come back question after question): each part is counted once and remembered."""
    name = encoding_name_for(model)
    return sum(_part_tokens(part, name) for part in _PIECE_BREAK.split(text))
