"""Cortex fine-tuning rules: base models, their limits, and the data checks built on them.

One module shared by the emulator (which refuses what breaks a rule) and the preflight check
(which reports it before a job is created), so the two never disagree.

Limits are from the Cortex Fine-tuning guide: per-example token allotments (longer prompts or
completions are truncated) and the row limit for one epoch; the effective row limit is the
one-epoch limit divided by the number of epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cortex_tune._constants import CHARS_PER_TOKEN

#: Epochs Cortex may choose when max_epochs is left out (the documented range is 1-10).
EPOCHS_RANGE = (1, 10)
#: Epochs assumed for the row limit when max_epochs is left out (the guide's "default" column).
DEFAULT_EPOCHS_FOR_LIMIT = 3


@dataclass(frozen=True)
class BaseModelSpec:
    """What Cortex allows when fine-tuning one base model."""

    name: str
    context_window: int
    prompt_tokens: int
    completion_tokens: int
    rows_one_epoch: int
    deprecated: bool = False

    def row_limit(self, epochs: int | None) -> int:
        """The most training rows a job of ``epochs`` epochs accepts."""
        return self.rows_one_epoch // (epochs or DEFAULT_EPOCHS_FOR_LIMIT)


BASE_MODELS: dict[str, BaseModelSpec] = {
    spec.name: spec
    for spec in (
        BaseModelSpec("llama3-8b", 8_000, 6_000, 2_000, 186_000),
        BaseModelSpec("llama3-70b", 8_000, 6_000, 2_000, 21_000),
        BaseModelSpec("llama3.1-8b", 24_000, 20_000, 4_000, 150_000),
        BaseModelSpec("llama3.1-70b", 8_000, 6_000, 2_000, 13_500),
        BaseModelSpec("mistral-7b", 32_000, 28_000, 4_000, 45_000),
        BaseModelSpec("mixtral-8x7b", 32_000, 28_000, 4_000, 27_000),
    )
}


def base_model_spec(name: str) -> BaseModelSpec | None:
    """The spec of a fine-tunable base model, or None (names are case-insensitive)."""
    return BASE_MODELS.get(name.strip().lower())


def estimate_tokens(text: str | None) -> int:
    """An estimate of the tokens in ``text``: about four characters a token."""
    if not text:
        return 0
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def unknown_base_model_message(name: str) -> str:
    """The message for a base model Cortex cannot fine-tune."""
    return f"invalid base model {name!r} for fine-tuning; choose one of: " + ", ".join(
        sorted(BASE_MODELS)
    )


def row_limit_message(rows: int, spec: BaseModelSpec, epochs: int | None) -> str:
    """The message for training data with more rows than the epochs allow."""
    shown = epochs or DEFAULT_EPOCHS_FOR_LIMIT
    return (
        f"training data has {rows} rows; {spec.name} accepts at most {spec.row_limit(epochs)} "
        f"rows for {shown} epoch(s) ({spec.rows_one_epoch} / {shown})"
    )
