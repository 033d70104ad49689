"""Evaluation in the warehouse: answer a validation set with COMPLETE and score it in SQL."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.statement import Generation
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune._inference.sql_batch import _function_call, read_answers
from cortex_tune.sql import Statement, training_query

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

Metric = Literal["exact", "normalized", "json"]
_METRICS = ("exact", "normalized", "json")


@dataclass(frozen=True)
class EvalRow:
    """One validation example and how the model did on it."""

    prompt: str | None
    expected: str | None
    predicted: str | None
    correct: bool
    error: str | None = None
    score: float | None = None
    """For ``metric="json"``: the fraction of expected fields the answer got right."""


@dataclass(frozen=True)
class EvalReport:
    """How one model did on a validation set.

    Attributes:
        model: The model evaluated.
        metric: ``exact`` (EQUAL_NULL, as the guides' ACCURACY), ``normalized`` (trimmed,
            case-insensitive) or ``json`` (field-by-field over the expected JSON object).
        rows: Every example with its answer.
        tokens: Tokens Cortex reported for the answers.
    """

    model: str
    metric: str
    rows: list[EvalRow] = field(repr=False)
    tokens: int = 0

    def __repr__(self) -> str:
        return (
            f"EvalReport(model={self.model!r}, metric={self.metric!r}, n={self.n}, "
            f"accuracy={self.accuracy:.3f}, failed={self.failed}, tokens={self.tokens})"
        )

    @property
    def n(self) -> int:
        """Examples evaluated."""
        return len(self.rows)

    @property
    def failed(self) -> int:
        """Examples whose completion failed."""
        return sum(1 for r in self.rows if r.error)

    @property
    def accuracy(self) -> float:
        """Fraction correct (for ``json``: the mean field score); 0.0 for no rows."""
        if not self.rows:
            return 0.0
        if self.metric == "json":
            return sum(r.score or 0.0 for r in self.rows) / len(self.rows)
        return sum(1 for r in self.rows if r.correct) / len(self.rows)

    def to_pandas(self) -> Any:
        """The per-row results as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.rows])

    def __str__(self) -> str:
        return (
            f"{self.model}: accuracy {self.accuracy:.1%} ({self.metric}) on {self.n} rows, "
            f"{self.failed} failed, {self.tokens:,} tokens"
        )

    def _repr_html_(self) -> str:
        head = html.escape(str(self))
        body = "".join(
            f"<tr><td>{html.escape(str(r.prompt)[:80])}</td><td>{html.escape(str(r.expected))}</td>"
            f"<td>{html.escape(str(r.predicted))}</td><td>{'✓' if r.correct else '✗'}</td></tr>"
            for r in self.rows[:20]
        )
        return (
            f"<div><b>{head}</b><table><tr><th>prompt</th><th>expected</th><th>predicted</th>"
            f"<th></th></tr>{body}</table></div>"
        )


def evaluate_sql(
    model: str, data: str | TrainingData, *, metric: Metric, functions: Generation
) -> Statement:
    """Answer every row of ``data`` (prompt, completion) and mark matches, in one statement.

    A row whose answer cannot be read is a failed row (its ERROR says why) and never correct.
    """
    if metric not in _METRICS:
        raise ConfigurationError(f"metric must be one of {', '.join(_METRICS)}, not {metric!r}")
    call, values = _function_call(functions, "d.PROMPT", {})
    inner = f"SELECT d.PROMPT AS PROMPT, d.COMPLETION AS COMPLETION, {call} AS CT_R FROM ({training_query(data)}) d"  # noqa: S608
    answered = read_answers(
        functions, structured=False, inner=inner, keep="PROMPT, COMPLETION", prompt="PROMPT"
    )
    match = (
        "EQUAL_NULL(LOWER(TRIM(RESPONSE)), LOWER(TRIM(COMPLETION)))"
        if metric == "normalized"
        else "EQUAL_NULL(RESPONSE, COMPLETION)"
    )
    sql = (
        "SELECT PROMPT, COMPLETION, RESPONSE, ERROR, TOKENS, "  # noqa: S608
        f"IFF(ERROR IS NULL AND {match}, 1, 0) AS CORRECT FROM ({answered})"
    )
    return Statement(sql, (model, *values), "evaluate")


def evaluate(cx: Cortex, model: str, data: str | TrainingData, *, metric: Metric) -> EvalReport:
    """See :meth:`Cortex.evaluate` (the statement run in the client's session, not recorded)."""
    generation: Generation = "legacy" if cx._functions == "legacy" else "ai"
    rows = cx._execute(evaluate_sql(model, data, metric=metric, functions=generation)).rows
    return report_from_rows(model, metric, rows)


def report_from_rows(model: str, metric: Metric, rows: list[tuple[Any, ...]]) -> EvalReport:
    """The report from the rows of :func:`evaluate_sql` (PROMPT, COMPLETION, RESPONSE, ERROR,
    TOKENS, CORRECT), however they were read (directly, or by query id)."""
    results = []
    tokens = 0
    for prompt, expected, predicted, error, used, correct in rows:
        tokens += int(used or 0)
        score = None
        if metric == "json":
            score = 0.0 if error else _json_score(predicted, expected)
        results.append(
            EvalRow(
                prompt=prompt,
                expected=expected,
                predicted=predicted,
                correct=bool(correct) if score is None else score == 1.0,
                error=error,
                score=score,
            )
        )
    return EvalReport(model=model, metric=metric, rows=results, tokens=tokens)


def _json_score(predicted: str | None, expected: str | None) -> float:
    """Fraction of the expected object's fields the predicted object has equal."""
    want, got = _as_object(expected), _as_object(predicted)
    if want is None:
        return 1.0 if predicted == expected else 0.0
    if not want:
        return 1.0 if got == {} else 0.0
    got = got or {}
    return sum(1 for k, v in want.items() if got.get(k) == v) / len(want)


def _as_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    candidate = text.strip()
    match = re.search(r"\{.*\}", candidate, re.S)
    try:
        value = json.loads(match.group(0) if match else candidate)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Comparison:
    """Several models evaluated on the same data, side by side."""

    reports: list[EvalReport]

    def __str__(self) -> str:
        width = max((len(r.model) for r in self.reports), default=5)
        lines = [f"{'model':<{width}}  accuracy  rows  failed  tokens"]
        lines += [
            f"{r.model:<{width}}  {r.accuracy:>8.1%}  {r.n:>4}  {r.failed:>6}  {r.tokens:>6}"
            for r in self.reports
        ]
        return "\n".join(lines)

    def best(self) -> EvalReport:
        """The report with the highest accuracy."""
        return max(self.reports, key=lambda r: r.accuracy)
