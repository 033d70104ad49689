"""Cortex fine-tuning rules: base models, their limits, and the data checks built on them.

One module shared by the emulator (which refuses what breaks a rule) and the preflight check
(which reports it before a job is created), so the two never disagree. Both call:

- :func:`base_model_findings` for the base model (unknown, fine-tuned or deprecated);
- :func:`missing_columns` for a query's columns (Cortex reads ``"PROMPT"`` and ``"COMPLETION"``);
- :func:`data_findings` over the :class:`DataStats` of a query's rows, which the emulator gets
  from :func:`stats_from_pairs` and the check from one aggregate SQL statement;
- :func:`refusal` for the message of the first error, i.e. what Cortex refuses.

Only what Cortex refuses is an error; everything else is a warning or a note, so the check
never blocks a job the service would accept.

Limits are from the Cortex Fine-tuning guide: per-example token allotments (longer prompts or
completions are truncated) and the row limit for one epoch; the effective row limit is the
one-epoch limit divided by the number of epochs. The guide defines no data size limit beyond
these, so none is checked.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cortex_tune._core.constants import CHARS_PER_TOKEN
from cortex_tune._core.errors import InvalidIdentifierError
from cortex_tune._core.identifiers import validate_name
from cortex_tune._core.rule_messages import ERRORS, NOTES, RULES, WARNINGS, Severity

__all__ = ["ERRORS", "NOTES", "RULES", "WARNINGS", "Severity"]  # re-exported: the codes

DataKind = Literal["training", "validation"]

#: Epochs Cortex may choose when max_epochs is left out (the documented range is 1-10).
EPOCHS_RANGE = (1, 10)
#: Epochs assumed for the row limit when max_epochs is left out (the guide's "default" column).
DEFAULT_EPOCHS_FOR_LIMIT = 3
#: The guide suggests starting with a few hundred examples; fewer usable rows earn a note.
FEW_ROWS = 200
#: How many example rows a finding shows, and how many characters of each.
SAMPLE_ROWS = 3
SAMPLE_CHARS = 60
#: Cortex runs ``SELECT "PROMPT", "COMPLETION" FROM (<query>)``: quoted, so upper case exactly.
REQUIRED_COLUMNS = ("PROMPT", "COMPLETION")


@dataclass(frozen=True)
class BaseModelSpec:
    """What Cortex allows when fine-tuning one base model."""

    name: str
    context_window: int
    prompt_tokens: int
    completion_tokens: int
    rows_one_epoch: int
    deprecated: bool = False
    #: Listed by the older copies of the FINETUNE reference only: the newest lists
    #: ``llama3.1-8b`` alone, so Cortex may refuse it (a warning, never an error).
    legacy: bool = False

    def row_limit(self, epochs: int | None) -> int:
        """The most training rows a job of ``epochs`` epochs accepts."""
        return self.rows_one_epoch // (epochs or DEFAULT_EPOCHS_FOR_LIMIT)


BASE_MODELS: dict[str, BaseModelSpec] = {
    spec.name: spec
    for spec in (
        BaseModelSpec("llama3-8b", 8_000, 6_000, 2_000, 186_000, legacy=True),
        BaseModelSpec("llama3-70b", 8_000, 6_000, 2_000, 21_000, legacy=True),
        BaseModelSpec("llama3.1-8b", 24_000, 20_000, 4_000, 150_000),
        BaseModelSpec("llama3.1-70b", 8_000, 6_000, 2_000, 13_500, legacy=True),
        BaseModelSpec("mistral-7b", 32_000, 28_000, 4_000, 45_000, legacy=True),
        BaseModelSpec("mixtral-8x7b", 32_000, 28_000, 4_000, 27_000, legacy=True),
    )
}


class Finding(BaseModel):
    """One thing a check found: an error Cortex would refuse, a warning, or a note."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    severity: Severity
    """``"error"`` (Cortex refuses it), ``"warning"`` (accepted, likely unwanted) or ``"info"``."""
    code: str
    """A stable identifier, e.g. ``"missing-columns"``; safe to match on."""
    message: str
    """What was found and what to do about it."""
    data: DataKind | None = None
    """The query it concerns, or None for the job as a whole."""
    count: int | None = None
    """How many rows (or prompts) it concerns, when it concerns rows."""
    samples: tuple[str, ...] = ()
    """A few example rows (prompts, or completions where the prompt is missing), shortened."""


class DataStats(BaseModel):
    """The numbers about one query's rows that the data rules read."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    rows: int = 0
    """Rows the query returns."""
    usable: int = 0
    """Rows with both a prompt and a completion (neither NULL)."""
    null_prompts: int = 0
    """Rows whose prompt is NULL."""
    null_completions: int = 0
    """Rows whose completion is NULL."""
    empty_prompts: int = 0
    """Rows whose prompt is empty or only spaces."""
    empty_completions: int = 0
    """Rows whose completion is empty or only spaces."""
    duplicates: int = 0
    """Usable rows repeating an identical prompt/completion pair (copies beyond the first)."""
    max_prompt_tokens: int = 0
    """Tokens in the longest prompt."""
    max_completion_tokens: int = 0
    """Tokens in the longest completion."""
    long_prompts: int = 0
    """Rows whose prompt exceeds the base model's prompt allotment."""
    long_completions: int = 0
    """Rows whose completion exceeds the base model's completion allotment."""
    input_tokens: int = 0
    """Tokens one epoch trains on: usable rows, each part cut to its allotment."""
    uncounted: int = 0
    """Rows whose tokens Cortex's counter could not count (NULL), so estimated instead."""
    prompt_is_text: bool = True
    """Whether the prompt column holds text."""
    completion_is_text: bool = True
    """Whether the completion column holds text."""


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
    return RULES["unknown-base-model"][1].format(name=name, bases=", ".join(sorted(BASE_MODELS)))


def row_limit_message(rows: int, spec: BaseModelSpec, epochs: int | None) -> str:
    """The message for training data with more rows than the epochs allow."""
    shown = epochs or DEFAULT_EPOCHS_FOR_LIMIT
    return (
        f"training data has {rows} rows; {spec.name} accepts at most {spec.row_limit(epochs)} "
        f"rows for {shown} epoch(s) ({spec.rows_one_epoch} / {shown})"
    )


# -- findings ----------------------------------------------------------------------------------


def finding(
    code: str,
    *,
    data: DataKind | None = None,
    count: int | None = None,
    samples: Sequence[str] = (),
    **values: Any,
) -> Finding:
    """The finding ``code`` with its severity from :data:`RULES` and its message filled in.

    Example:
        >>> finding("overlap", count=2).severity
        'warning'
    """
    severity, template = RULES[code]
    message = template.format(data=data, n=count, **values)
    return Finding(
        severity=severity,
        code=code,
        message=message,
        data=data,
        count=count,
        samples=tuple(samples),
    )


def refusal(findings: Iterable[Finding]) -> str | None:
    """The message of the first error among ``findings`` (what Cortex refuses), or None."""
    return next((f.message for f in findings if f.severity == "error"), None)


# -- the base model and the queries --------------------------------------------------------------


def base_model_findings(
    name: str, *, models: Mapping[str, BaseModelSpec] = BASE_MODELS
) -> list[Finding]:
    """Findings about the base model: unknown or fine-tuned (errors), deprecated or legacy
    (warnings).

    Args:
        name: The base model asked for.
        models: The catalogue to look it up in (case-insensitively).

    Example:
        >>> [f.code for f in base_model_findings("SUPPORT_MISTRAL_7B")]
        ['fine-tuned-base']
    """
    spec = models.get(name.strip().lower())
    bases = ", ".join(sorted(s.name for s in models.values() if not s.deprecated))
    if spec is None:
        code = "fine-tuned-base" if _looks_fine_tuned(name) else "unknown-base-model"
        return [finding(code, name=name, bases=bases)]
    if spec.deprecated:
        return [finding("deprecated-base-model", name=spec.name, bases=bases)]
    if spec.legacy:
        current = ", ".join(sorted(s.name for s in models.values() if not s.legacy))
        return [finding("legacy-base-model", name=spec.name, bases=current)]
    return []


def _looks_fine_tuned(name: str) -> bool:
    # Cortex's base models are lower-case names with '-' (never valid bare identifiers);
    # a fine-tuned model is a registry object: MY_MODEL, db.schema.my_model, "Quoted".
    text = name.strip()
    try:
        validate_name(text)
    except InvalidIdentifierError:
        return False
    return any(ch in text for ch in '._"') or text != text.lower()


def has_trailing_semicolon(query: str) -> bool:
    """Whether ``query`` ends with ``;``, which fails a job once Cortex wraps it in a subquery."""
    return query.rstrip().endswith(";")


def missing_columns(columns: Sequence[str]) -> list[str]:
    """The columns Cortex reads that a query's result lacks (names compared exactly).

    Example:
        >>> missing_columns(["PROMPT", "ANSWER"])
        ['COMPLETION']
    """
    return [name for name in REQUIRED_COLUMNS if name not in columns]


def columns_finding(data: DataKind, columns: Sequence[str]) -> Finding | None:
    """The error for a query without ``PROMPT`` and ``COMPLETION`` columns, or None."""
    missing = missing_columns(columns)
    if not missing:
        return None
    near = [c for c in columns if c.upper() in missing]
    return finding(
        "missing-columns",
        data=data,
        missing=" or ".join(missing),
        columns=", ".join(columns) or "(no columns)",
        near=f" ({', '.join(near)}: Cortex wants upper case; alias without quotes)" if near else "",
    )


def query_failed_finding(data: DataKind | None, error: str) -> Finding:
    """The error for a query that does not run: the job would fail the same way."""
    what = f"the {data} query" if data else "the training or validation query"
    return finding("query-failed", data=data, what=what, error=error)


# -- the rows ------------------------------------------------------------------------------------

#: Warnings that count rows: (code, the DataStats field counting them).
_ROW_RULES = (
    ("null-prompt", "null_prompts"),
    ("null-completion", "null_completions"),
    ("empty-prompt", "empty_prompts"),
    ("empty-completion", "empty_completions"),
    ("duplicate-pairs", "duplicates"),
    ("prompt-too-long", "long_prompts"),
    ("completion-too-long", "long_completions"),
    ("tokens-uncounted", "uncounted"),
)
_SIZE_RULES = {"prompt-too-long", "completion-too-long"}


def data_findings(
    data: DataKind,
    stats: DataStats,
    spec: BaseModelSpec | None,
    epochs: int | None,
    *,
    samples: Mapping[str, Sequence[str]] | None = None,
) -> list[Finding]:
    """Every rule over one query's rows: errors Cortex refuses, warnings, notes.

    Errors (training data only): no usable rows (``no-rows``) and more rows than the base
    model accepts for the epochs (``too-many-rows``). Without ``spec`` (an unknown base model)
    the rules that need its limits are skipped.

    Args:
        data: Which query the numbers are about.
        stats: The numbers (:func:`stats_from_pairs`, or the check's SQL).
        spec: The base model's limits.
        epochs: ``max_epochs`` as given (None: Cortex chooses).
        samples: Example rows per finding code.
    """
    found = _size_findings(data, stats, spec, epochs)
    values = {
        "model": spec.name if spec else "",
        "prompt_limit": spec.prompt_tokens if spec else 0,
        "completion_limit": spec.completion_tokens if spec else 0,
        "longest_prompt": stats.max_prompt_tokens,
        "longest_completion": stats.max_completion_tokens,
    }
    for code, field in _ROW_RULES:
        count = int(getattr(stats, field))
        if count and (spec is not None or code not in _SIZE_RULES):
            examples = (samples or {}).get(code, ())
            found.append(finding(code, data=data, count=count, samples=examples, **values))
    wrong = [
        name
        for name, ok in (("PROMPT", stats.prompt_is_text), ("COMPLETION", stats.completion_is_text))
        if not ok
    ]
    if wrong:
        found.append(finding("not-text", data=data, columns=" and ".join(wrong)))
    return found


def _size_findings(
    data: DataKind, stats: DataStats, spec: BaseModelSpec | None, epochs: int | None
) -> list[Finding]:
    if data == "validation":
        return [] if stats.usable else [finding("no-validation-rows", data=data)]
    if not stats.usable:
        return [finding("no-rows", data=data, count=0)]
    found = []
    if spec is not None and stats.rows > spec.row_limit(epochs):
        limit = row_limit_message(stats.rows, spec, epochs)
        found.append(finding("too-many-rows", data=data, count=stats.rows, limit=limit))
    if stats.usable < FEW_ROWS:
        found.append(finding("few-rows", data=data, count=stats.usable))
    return found


def overlap_finding(count: int, samples: Sequence[str] = ()) -> Finding | None:
    """The warning for prompts present in both the training and the validation data."""
    return finding("overlap", count=count, samples=samples) if count else None


# -- the Python twin of the check's SQL ----------------------------------------------------------


def stats_from_pairs(pairs: Iterable[tuple[Any, Any]], spec: BaseModelSpec | None) -> DataStats:
    """The :class:`DataStats` of ``(prompt, completion)`` rows, counted in Python.

    The same numbers the preflight check computes in SQL, with estimated tokens; the
    emulator uses it on the rows a training query returns.

    Example:
        >>> stats_from_pairs([("hi", "hello"), ("hi", "hello"), (None, "x")], None).duplicates
        1
    """
    totals: Counter[str] = Counter()
    prompt_text = completion_text = True
    limits = (spec.prompt_tokens, spec.completion_tokens) if spec else None
    for (prompt, completion), n in Counter(pairs).items():
        pt, ct = _tokens(prompt), _tokens(completion)
        prompt_text = prompt_text and (prompt is None or isinstance(prompt, str))
        completion_text = completion_text and (completion is None or isinstance(completion, str))
        usable = prompt is not None and completion is not None
        totals.update(
            rows=n,
            usable=n if usable else 0,
            null_prompts=n if prompt is None else 0,
            null_completions=n if completion is None else 0,
            empty_prompts=n if _blank(prompt) else 0,
            empty_completions=n if _blank(completion) else 0,
            duplicates=n - 1 if usable else 0,
            long_prompts=n if limits and pt > limits[0] else 0,
            long_completions=n if limits and ct > limits[1] else 0,
            input_tokens=n * (min(pt, limits[0]) + min(ct, limits[1])) if limits and usable else 0,
        )
        totals["max_prompt_tokens"] = max(totals["max_prompt_tokens"], pt)
        totals["max_completion_tokens"] = max(totals["max_completion_tokens"], ct)
    return DataStats(prompt_is_text=prompt_text, completion_is_text=completion_text, **totals)


def _tokens(value: Any) -> int:
    return 0 if value is None else estimate_tokens(str(value))


def _blank(value: Any) -> bool:
    # Snowflake's TRIM removes spaces only, so only spaces count as blank here too.
    return value is not None and str(value).strip(" ") == ""


def trained_tokens(input_tokens: int, epochs: int | None) -> tuple[int, int]:
    """Trained tokens (input tokens x epochs) as a range: the documented 1-10 when unset."""
    low, high = (epochs, epochs) if epochs else EPOCHS_RANGE
    return input_tokens * low, input_tokens * high
