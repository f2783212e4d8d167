"""Chat model used by the example graphs.

By default the examples run fully offline with :class:`OfflineChatModel`, a
deterministic text generator (NOT a language model).  Set
``GRAPHGATE_CHAT_MODEL`` (e.g. ``"openai:gpt-4o-mini"``) to use a real model
through :func:`langchain.chat_models.init_chat_model` instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

__all__ = ["OfflineChatModel", "get_chat_model"]

_FIELD_RE = re.compile(
    r"^\s*(Topic|Audience|Depth|Sections|Section|Words|Revision note)\s*:\s*(.*?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)

_OUTLINE_POOL: tuple[str, ...] = (
    "Background and Key Concepts",
    "How {topic} Works in Practice",
    "Why It Matters for {audience}",
    "Current Applications",
    "Benefits and Opportunities",
    "Risks, Challenges and Limitations",
    "Evidence and Case Studies",
    "Practical Steps for Getting Started",
    "Common Misconceptions",
    "Ethical and Regulatory Considerations",
    "Measuring Success",
    "Lessons Learned So Far",
)

_SENTENCES: tuple[str, ...] = (
    'The theme of "{section}" is a useful lens for understanding {topic}.',
    "For {audience}, the practical question is how {topic} changes everyday decisions.",
    "A common starting point is to separate what is already proven from what is still being tested.",
    'Looking closely at "{section}" shows that small design choices often have large consequences.',
    "Experience suggests that progress comes from steady iteration rather than a single breakthrough.",
    "Clear goals and honest measurement make it easier to judge whether {topic} is delivering value.",
    "It helps to compare several concrete examples before drawing general conclusions.",
    "Explanations for {audience} work best when they connect new ideas to familiar situations.",
    "Trade-offs appear quickly, and each option carries its own costs and benefits.",
    "The people involved matter as much as the technology or method itself.",
    "When expectations are realistic, adoption tends to be smoother and more durable.",
    "Reliable data and transparent reasoning remain the foundation of any sound judgement here.",
    "Collaboration across disciplines often reveals problems that a single team would miss.",
    "These observations also prepare the ground for the sections that follow.",
)

_DEPTH_SENTENCES: dict[str, str] = {
    "overview": "At an overview level, the essential point is simple: {topic} is worth understanding before it is worth optimising.",
    "standard": 'In more detail, "{section}" combines established practice with a few newer ideas about {topic}.',
    "deep": 'A deeper analysis of "{section}" has to account for edge cases, failure modes and the assumptions behind each claim about {topic}.',
}


def _seed(*parts: str) -> int:
    """Return a stable integer derived from ``parts`` (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _prompt_text(messages: Sequence[BaseMessage]) -> str:
    """Concatenate the textual content of ``messages``."""
    return "\n".join(str(m.text) for m in messages)


def _fields(prompt: str) -> dict[str, str]:
    """Extract ``Key: value`` lines (first occurrence wins, keys lower-cased)."""
    found: dict[str, str] = {}
    for key, value in _FIELD_RE.findall(prompt):
        found.setdefault(key.lower(), value)
    return found


def _previous_outline(prompt: str) -> list[str]:
    """Return the bulleted titles listed after a ``Previous outline:`` header."""
    match = re.search(r"Previous outline:\s*\n((?:\s*[-*]\s+.+\n?)+)", prompt, re.IGNORECASE)
    if not match:
        return []
    return [line.strip()[1:].strip() for line in match.group(1).splitlines() if line.strip()]


def _int(value: str | None, default: int, low: int, high: int) -> int:
    """Parse ``value`` as an int clamped to ``[low, high]``; ``default`` if unparsable."""
    try:
        return max(low, min(high, int(str(value).strip())))
    except (TypeError, ValueError):
        return default


def _outline(f: dict[str, str], prompt: str) -> str:
    """Deterministic numbered outline for an outline request."""
    topic, audience = f.get("topic") or "the topic", f.get("audience") or "general readers"
    count = _int(f.get("sections"), 4, 2, 12)
    note = f.get("revision note", "")
    previous = set(_previous_outline(prompt))
    pool = [t.format(topic=topic, audience=audience) for t in _OUTLINE_POOL]
    pool.sort(key=lambda title: _seed(topic, audience, note, *sorted(previous), title))
    fresh = [t for t in pool if t not in previous]
    middle = (fresh + [t for t in pool if t in previous])[: max(0, count - 2)]
    if note and count > 2:
        middle = [f"Addressing the Feedback: {note[:60]}"] + middle[:-1]
    titles = [f"Introduction to {topic}", *middle, "Conclusion and Next Steps"][:count]
    return "\n".join(f"{i}. {title}" for i, title in enumerate(titles, 1))


def _section(f: dict[str, str]) -> str:
    """Deterministic prose of roughly ``Words:`` words about ``Section:``."""
    topic, audience = f.get("topic") or "the topic", f.get("audience") or "general readers"
    section = f.get("section") or "This section"
    depth = (f.get("depth") or "standard").lower()
    target = _int(f.get("words"), 200, 20, 5000)
    values = {"topic": topic, "audience": audience, "section": section}
    order = sorted(range(len(_SENTENCES)), key=lambda i: _seed(topic, section, depth, str(i)))
    sentences = [_DEPTH_SENTENCES.get(depth, _DEPTH_SENTENCES["standard"]).format(**values)]
    words = len(sentences[0].split())
    i = 0
    while words < target:
        sentence = _SENTENCES[order[i % len(order)]].format(**values)
        if words + len(sentence.split()) > target * 1.15 and words >= target * 0.85:
            break
        sentences.append(sentence)
        words += len(sentence.split())
        i += 1
    paragraphs = [" ".join(sentences[j : j + 4]) for j in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def offline_reply(prompt: str) -> str:
    """Return the deterministic reply :class:`OfflineChatModel` gives to ``prompt``.

    Recognised prompt lines (``Key: value``): ``Topic``, ``Audience``, ``Depth``,
    ``Sections`` (outline size), ``Section`` (title to write), ``Words``
    (requested length), ``Revision note``, plus a bulleted ``Previous outline:``
    block.  A prompt with ``Section:`` gets prose, a prompt mentioning
    "outline" gets a numbered list, anything else gets a short acknowledgement.
    """
    f = _fields(prompt)
    if "section" in f:
        return _section(f)
    if "outline" in prompt.lower():
        return _outline(f, prompt)
    last = prompt.strip().splitlines()[-1] if prompt.strip() else ""
    return f"[offline model] I received your message: {last}"


class OfflineChatModel(BaseChatModel):
    """Offline, deterministic stand-in for a chat model. NOT an LLM.

    It builds text from templates filled with fields parsed from the prompt
    (see :func:`offline_reply`): the same messages always produce the same
    output.  Streaming yields one chunk per word (whitespace attached), and the
    chunks concatenate exactly to the non-streamed reply.
    """

    delay_per_token: float = 0.0
    """Seconds to sleep per emitted word, to simulate generation latency."""

    @property
    def _llm_type(self) -> str:
        return "graphgate-offline-deterministic"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"delay_per_token": self.delay_per_token}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = offline_reply(_prompt_text(messages))
        if self.delay_per_token > 0:
            time.sleep(self.delay_per_token * len(text.split()))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = offline_reply(_prompt_text(messages))
        for token in re.findall(r"\s*\S+\s*", text):
            if self.delay_per_token > 0:
                time.sleep(self.delay_per_token)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk


@functools.lru_cache(maxsize=8)
def _build(pid: int, spec: str, base_url: str, api_key: str, delay: float) -> BaseChatModel:
    """Build a chat model; cached per (process, configuration)."""
    if not spec:
        return OfflineChatModel(delay_per_token=delay)
    import langchain.chat_models as lc_chat_models  # looked up at call time

    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url
    if api_key:
        kwargs["api_key"] = api_key
    return lc_chat_models.init_chat_model(spec, **kwargs)


def get_chat_model() -> BaseChatModel:
    """Return the chat model configured by the environment, cached per process.

    ``GRAPHGATE_CHAT_MODEL`` set -> ``init_chat_model(spec, base_url=..., api_key=...)``
    (only the kwargs whose ``GRAPHGATE_CHAT_MODEL_BASE_URL`` /
    ``GRAPHGATE_CHAT_MODEL_API_KEY`` variables are non-empty).  Otherwise an
    :class:`OfflineChatModel` with ``GRAPHGATE_OFFLINE_MODEL_DELAY`` seconds per token.
    """
    env = os.environ
    return _build(
        os.getpid(),
        env.get("GRAPHGATE_CHAT_MODEL", "").strip(),
        env.get("GRAPHGATE_CHAT_MODEL_BASE_URL", ""),
        env.get("GRAPHGATE_CHAT_MODEL_API_KEY", ""),
        float(env.get("GRAPHGATE_OFFLINE_MODEL_DELAY", "0") or 0),
    )
