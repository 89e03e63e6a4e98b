"""tiktoken works offline: the encodings come from bpe-openai, and each model counts with its own."""

import hashlib
import os

import tiktoken
import tiktoken.load

from ai import tokens


def test_encodings_are_installed_under_tiktokens_own_cache_names(tmp_path, monkeypatch, settings):
    # given an empty cache directory (a fresh machine with no network)
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    # when the encodings are installed
    tokens.install_offline_encodings()
    # then each blob sits where tiktoken looks for it, byte-identical to what it would download
    for url, sha256 in tokens._ENCODING_BLOBS.values():
        path = cache / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    # and tiktoken loads from that cache without fetching anything
    url, sha256 = tokens._ENCODING_BLOBS["o200k_base"]
    blobs = tiktoken.load.read_file_cached(url, sha256)
    assert len(blobs) > 1_000_000


def test_a_corrupted_cached_encoding_is_replaced(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    tokens.install_offline_encodings()
    url, sha256 = tokens._ENCODING_BLOBS["cl100k_base"]
    path = cache / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key
    path.write_bytes(b"truncated")
    tokens.install_offline_encodings()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_chat_models_count_with_o200k_and_embedding_models_with_cl100k():
    assert tokens.encoding_for("gpt-4o-mini").name == "o200k_base"
    assert tokens.encoding_for("gpt-4o").name == "o200k_base"
    assert tokens.encoding_for("o4-mini").name == "o200k_base"
    assert tokens.encoding_for("text-embedding-3-small").name == "cl100k_base"


def test_korean_text_costs_fewer_tokens_with_the_newer_encoding():
    question = "말레니아 2페이즈 어떻게 피해요? 물새 난무가 너무 어려워요."
    o200k = tokens.count_tokens(question, "gpt-4o-mini")
    cl100k = tokens.count_tokens(question, "text-embedding-3-small")
    assert o200k == len(tiktoken.get_encoding("o200k_base").encode(question))
    assert cl100k == len(tiktoken.get_encoding("cl100k_base").encode(question))
    assert o200k < cl100k


def test_special_token_text_in_a_guide_is_counted_not_refused():
    assert tokens.count_tokens("say <|endoftext|> twice", "gpt-4o-mini") > 3


def test_an_unknown_model_counts_like_todays_chat_models():
    assert tokens.encoding_for("offline-hash-ngram-v1").name == "o200k_base"


def test_the_cache_directory_comes_from_settings_when_the_environment_has_none(tmp_path, monkeypatch, settings):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    settings.TIKTOKEN_CACHE_DIR = str(tmp_path / "from-settings")
    assert tokens.install_offline_encodings() == str(tmp_path / "from-settings")
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "from-settings")
    assert len(os.listdir(tmp_path / "from-settings")) == 2


_PIECES = [
    "Malenia",
    " blade",
    "of",
    " Miquella",
    "말레니아",
    " 2페이즈",
    "피해요",
    "?",
    ".",
    ",",
    "!",
    "'s",
    "'LL",
    " 's",
    "/",
    "//",
    " /",
    "<",
    "</source>",
    '<source id="1" title="Phase 2">',
    "[1]",
    "123",
    "4567",
    " 89",
    "\n",
    "\n\n",
    "\r\n",
    " \n",
    "\n ",
    "\t",
    "  ",
    " ",
    "<|endoftext|>",
    "🗡️",
    "—",
    "…",
    "&lt;",
    "\u200b",
    "é",
    "e\u0301",
]


def _random_text(rng) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 60)))


def test_counting_by_line_is_exact_for_both_encodings():
    import random

    rng = random.Random(8)
    texts = [_random_text(rng) for _ in range(3000)]
    texts += ["a.\n/b", "x\n//y", "end.\r\n/path", "\n\n\nA", "A\n", "\n", ""]
    for model in ("gpt-4o-mini", "text-embedding-3-small"):  # o200k_base, cl100k_base
        for text in texts:
            assert tokens.count_tokens_by_line(text, model) == tokens.count_tokens(text, model), (model, text)


def test_a_line_break_before_a_slash_is_not_a_place_to_split():
    # o200k_base keeps "/" after a line break with the punctuation before it: summing across that point
    # would miscount (2 + 2 tokens for 3), which is why count_tokens_by_line does not split there
    text, model = "a.\n/ok", "gpt-4o-mini"
    naive = tokens.count_tokens("a.\n", model) + tokens.count_tokens("/ok", model)
    assert naive != tokens.count_tokens(text, model)
    assert tokens.count_tokens_by_line(text, model) == tokens.count_tokens(text, model)


def test_real_prompts_count_the_same_by_line(db):
    from coach.services.llm.fit import prompt_token_count
    from coach.services.prompt import prompt_messages
    from dev.demo.loader import demo_load
    from knowledge.models import Chunk

    demo_load()
    chunks = list(Chunk.objects.select_related("document")[:12])
    sources = [{"title": c.document.title, "text": c.text, "url": c.document.source_url} for c in chunks]
    for question in ("말레니아 2페이즈 어떻게 피해요?", "best jungle path this patch?\n/all chat"):
        messages = prompt_messages(game="elden-ring", question=question, sources=sources)
        expected = 3 + sum(3 + sum(tokens.count_tokens(str(v), "gpt-4o-mini") for v in m.values()) for m in messages)
        assert prompt_token_count(messages, "gpt-4o-mini") == expected
