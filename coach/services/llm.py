"""LLM calls: chat completions with plan limits and retries, and summarize_chunk for ingestion."""

import re

SUMMARY_MAX_CHARS = 2400
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")


def summarize_chunk(text: str, *, model: str | None = None) -> str:
    """Shorten an over-long piece before it is stored (the customer's rule for pieces over 1,200 tokens).

    Offline: keep whole sentences from the start up to SUMMARY_MAX_CHARS, so the stored text is
    always words the source really said.
    """
    kept, size = [], 0
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        if size + len(sentence) > SUMMARY_MAX_CHARS and kept:
            break
        kept.append(sentence[:SUMMARY_MAX_CHARS])
        size += len(sentence) + 1
    return " ".join(kept)
