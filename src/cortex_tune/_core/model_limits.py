"""Inference limits of Cortex models: context window and maximum output, in tokens.

From the model table of the Cortex AI Functions guide ("| Function | Model | Context window
(tokens) | Max output (tokens) |", https://docs.snowflake.com/en/user-guide/snowflake-cortex/aisql):
"Inputs exceeding the context window limit result in an error." These are the windows COMPLETE
and AI_COMPLETE apply; the fine-tuning allotments of :mod:`cortex_tune._core.rules` are another
table, for training examples. Shared by the statement builders (which refuse a ``max_tokens``
above a listed model's output limit before any I/O) and the emulator (which applies both
limits as Cortex does), so the two never disagree. A model the table does not list (a newer
model, a stand-in, a fine-tuned model) has no limit here: Cortex decides.
"""

from __future__ import annotations

from dataclasses import dataclass

#: "max_tokens: ... Default: 4096 Maximum allowed value: 8192" (the COMPLETE and AI_COMPLETE
#: references). The model table lists larger outputs for some models (claude-sonnet-4-5: 64,000),
#: so the references' maximum is read as the limit of the models the table lists at 8,192.
MAX_TOKENS_DEFAULT = 4096


@dataclass(frozen=True)
class InferenceLimits:
    """What one model accepts: its context window and its largest output, in tokens."""

    context_window: int
    max_output: int


INFERENCE_LIMITS: dict[str, InferenceLimits] = {
    name: InferenceLimits(window, output)
    for name, window, output in (
        ("llama3-8b", 8_000, 8_192),
        ("llama3-70b", 8_000, 8_192),
        ("llama3.1-8b", 128_000, 8_192),
        ("llama3.1-70b", 128_000, 8_192),
        ("llama3.3-70b", 128_000, 8_192),
        ("llama4-maverick", 128_000, 8_192),
        ("llama4-scout", 128_000, 8_192),
        ("mistral-7b", 32_000, 8_192),
        ("mixtral-8x7b", 32_000, 8_192),
        ("mistral-large2", 128_000, 8_192),
        ("claude-4-sonnet", 200_000, 32_000),
        ("claude-sonnet-4-5", 200_000, 64_000),
        ("openai-gpt-4.1", 128_000, 32_000),
    )
}


def inference_limits(model: str) -> InferenceLimits | None:
    """The documented limits of base model ``model`` (case-insensitive), or None.

    Example:
        >>> inference_limits("llama3.1-8b").context_window
        128000
    """
    return INFERENCE_LIMITS.get(model.strip().lower()) if isinstance(model, str) else None
