"""The coach's LLM calls: chat completions within the plan's limits, with the plan's fallback model.

Two providers behind one call: the official openai SDK when OPENAI_API_KEY is set (OPENAI_BASE_URL
points it at any OpenAI-compatible server), else an offline provider that composes the answer from
the retrieved sources, so the demo and the tests run anywhere.

    result = await chat_completion(plan=plan, game="elden-ring", question=q, sources=hits, history=turns)

    async with await chat_completion(..., stream=True) as stream:    # closing it stops the LLM call
        async for item in stream:                                      # str deltas, then one LLMResult
            ...
"""

from coach.services.llm.call import chat_completion
from coach.services.llm.fit import prompt_token_count
from coach.services.llm.offline import OFFLINE_MODEL
from coach.services.llm.result import LLMResult
from coach.services.llm.stream import ChatStream

__all__ = ["OFFLINE_MODEL", "ChatStream", "LLMResult", "chat_completion", "prompt_token_count"]
