"""The preflight check behind ``cx.finetune.check``, and the report it returns.

The check reads the training (and validation) data through a few aggregate statements (see
``preflight_sql``) and applies the rules in ``rules``, the same rules the emulator enforces.
The report renders as a table in a terminal, as HTML in a notebook, and as JSON.
"""

from __future__ import annotations

import html
import json
import sys
import textwrap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from cortex_tune._core import rules as _rules
from cortex_tune._core.constants import CHARS_PER_TOKEN
from cortex_tune._core.errors import (
    BudgetExceededError,
    ConfigurationError,
    NoWarehouseError,
    PermissionDeniedError,
    QueryError,
    UnknownFunctionError,
    UnknownModelError,
)
from cortex_tune._core.rules import DataKind, DataStats, Finding
from cortex_tune._finetune.preflight_sql import (
    PREFLIGHT_OP,
    TokenCounter,
    columns_sql,
    read_stats,
    stats_sql,
)
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune.sql import Statement, training_query

if TYPE_CHECKING:
    from cortex_tune._backends.base import Result
    from cortex_tune._client.cortex import Cortex

_RANK = {"error": 0, "warning": 1, "info": 2}
# Errors meaning the check itself cannot run here, rather than that the data is wrong.
_CANNOT_RUN = (NoWarehouseError, PermissionDeniedError, UnknownModelError, BudgetExceededError)


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class DataCheck(_Report):
    """What the check learnt about one query."""

    data: DataKind
    """``"training"`` or ``"validation"``."""
    query: str
    """The query as cortex-tune sends it (trailing ``;`` removed)."""
    columns: tuple[str, ...] | None = None
    """The columns it returns; None when it does not run (or the backend does not say)."""
    stats: DataStats | None = None
    """Counts over its rows; None when they could not be read."""


class CostEstimate(_Report):
    """What the job would train on, and cost when a credit rate is given."""

    input_tokens: int
    """Tokens one epoch trains on (prompts and completions cut to their allotments)."""
    tokens_counted_by: Literal["estimate", "cortex"]
    """``"estimate"`` (about four characters a token) or ``"cortex"`` (COUNT_TOKENS)."""
    epochs: tuple[int, int]
    """The fewest and most epochs: ``max_epochs`` twice, or Cortex's 1 to 10 when unset."""
    trained_tokens: tuple[int, int]
    """Input tokens x epochs, for the fewest and most epochs."""
    credits_per_million: float | None = None
    """The rate used, from ``credits_per_million``; cortex-tune ships none."""
    credits: tuple[float, float] | None = None
    """Estimated credits for the fewest and most epochs, when a rate is given."""


class PreflightReport(_Report):
    """What ``cx.finetune.check`` found: findings, counts per query, and a cost estimate.

    ``print(report)`` shows a table, a notebook shows HTML, ``report.to_json()`` gives JSON.

    Example:
        >>> report = cx.finetune.check("mistral-7b", training="SELECT * FROM train")  # doctest: +SKIP
        >>> report.ok, [f.code for f in report.errors]  # doctest: +SKIP
        (False, ['missing-columns'])
    """

    base_model: str
    """The base model checked against."""
    max_epochs: int | None = None
    """``max_epochs`` as given (None: Cortex chooses)."""
    findings: tuple[Finding, ...] = ()
    """Everything found, errors first."""
    training: DataCheck | None = None
    """The training query's columns and counts."""
    validation: DataCheck | None = None
    """The validation query's, when one was given."""
    overlap: int | None = None
    """Distinct prompts present in both, when both were read."""
    cost: CostEstimate | None = None
    """Trained tokens and credits, when the training rows were read."""
    statements: int = 0
    """How many statements the check ran."""

    @property
    def ok(self) -> bool:
        """True when nothing would make Cortex refuse the job (warnings may remain)."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """Findings Cortex would refuse the job for."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings Cortex accepts that are most likely mistakes."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def notes(self) -> list[Finding]:
        """Guidance and how the numbers were reached."""
        return [f for f in self.findings if f.severity == "info"]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-compatible data (stable keys)."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON; :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> PreflightReport:
        """A report from :meth:`to_json`'s output."""
        return cls.model_validate_json(text)

    def to_text(self, *, width: int = 100) -> str:
        """The report as a plain-text table for a terminal."""
        return _text(self, width)

    def __str__(self) -> str:
        return self.to_text()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # What a user looks for first, in one short line; print(report) shows everything.
        yield "ok", self.ok
        yield "base_model", self.base_model
        yield "max_epochs", self.max_epochs
        yield "errors", len(self.errors)
        yield "warnings", len(self.warnings)
        yield "notes", len(self.notes)
        for check in (self.training, self.validation):
            if check is not None:
                yield f"{check.data}_rows", check.stats.rows if check.stats else None
        yield "trained_tokens", self.cost.trained_tokens if self.cost else None

    def _repr_html_(self) -> str:
        return _html(self)


# -- the check -----------------------------------------------------------------------------------


def runs_sql(backend: object) -> bool:
    """Whether ``backend`` runs arbitrary SQL (FakeBackend answers only Cortex's statements).

    A backend may say so with a boolean ``runs_sql`` attribute.
    """
    declared = getattr(backend, "runs_sql", None)
    if isinstance(declared, bool):
        return declared
    # Without importing the fakes: a FakeBackend exists only once its module is loaded.
    fake = sys.modules.get("cortex_tune._backends.fake")
    return fake is None or not isinstance(backend, fake.FakeBackend)


def run_check(
    client: Cortex,
    base_model: str,
    *,
    training: str | TrainingData,
    validation: str | TrainingData | None,
    max_epochs: int | None,
    server_tokens: bool,
    credits_per_million: Mapping[str, float] | None,
) -> PreflightReport:
    """Run the check (see ``FineTune.check``); ConfigurationError before any I/O on bad input."""
    rates = _validate(base_model, max_epochs, credits_per_million)
    sources: list[tuple[DataKind, str | TrainingData]] = [("training", training)]
    sources += [("validation", validation)] if validation is not None else []
    queries = {kind: training_query(query) for kind, query in sources}
    if not runs_sql(client.backend):
        raise ConfigurationError(
            f"{type(client.backend).__name__} runs no SQL, so the data cannot be checked",
            hint="Check on Cortex.local() or a Snowflake connection.",
            op=PREFLIGHT_OP,
        )
    run = _Run(client, base_model, max_epochs, server_tokens)
    run.findings += [
        _rules.finding("trailing-semicolon", data=kind)
        for kind, query in sources
        if isinstance(query, str) and _rules.has_trailing_semicolon(query)
    ]
    checks = {kind: run.columns(kind, queries[kind]) for kind, _ in sources}
    overlap = run.stats(checks, run.readable) if run.readable else None
    cost = _cost(checks["training"].stats, run.spec, max_epochs, run.tokens, rates)
    run.findings += _notes(base_model, run.spec, validation, max_epochs, cost)
    return PreflightReport(
        base_model=base_model,
        max_epochs=max_epochs,
        findings=tuple(sorted(run.findings, key=lambda f: _RANK[f.severity])),
        training=checks["training"],
        validation=checks.get("validation"),
        overlap=overlap,
        cost=cost,
        statements=run.count,
    )


def _validate(
    base_model: str, max_epochs: int | None, rates: Mapping[str, float] | None
) -> dict[str, float]:
    if not isinstance(base_model, str) or not base_model.strip():
        raise ConfigurationError(f"base_model must be a non-empty string, not {base_model!r}")
    if max_epochs is not None and (
        isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or not 1 <= max_epochs <= 10
    ):
        raise ConfigurationError(f"max_epochs must be an integer from 1 to 10, not {max_epochs!r}")
    checked: dict[str, float] = {}
    for name, rate in (rates or {}).items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
            raise ConfigurationError(f"credits_per_million[{name!r}] must be a number >= 0")
        checked[str(name).strip().lower()] = float(rate)
    return checked


class _Run:
    """One check: its statements (through the client's funnel, counted) and its findings."""

    def __init__(self, client: Cortex, base_model: str, epochs: int | None, server: bool) -> None:
        self.client, self.base_model, self.epochs = client, base_model, epochs
        self.spec = _rules.base_model_spec(base_model)
        self.findings = _rules.base_model_findings(base_model)
        self.count = 0
        self.readable: list[DataKind] = []  # the queries worth aggregating
        # Cortex cannot count tokens for a model it does not know: estimate instead.
        self.tokens: TokenCounter = "estimate"
        if server and self.spec is not None:
            self.tokens = client._generation_for(self.spec.name)

    def execute(self, statement: Statement) -> Result:
        self.count += 1
        return self.client._execute(statement)

    def columns(self, kind: DataKind, query: str) -> DataCheck:
        """Run the query with LIMIT 0: does it compile, and with which columns?"""
        try:
            result = self.execute(columns_sql(query))
        except NoWarehouseError:
            raise
        except QueryError as exc:
            self.findings.append(_rules.query_failed_finding(kind, exc.message))
            return DataCheck(data=kind, query=query)
        if not result.columns:
            # Every query has a column: this backend (Snowpark) does not report names, so the
            # aggregate statement will tell whether PROMPT and COMPLETION are there.
            self.readable.append(kind)
            return DataCheck(data=kind, query=query)
        missing = _rules.columns_finding(kind, result.columns)
        self.findings += [missing] if missing is not None else []
        self.readable += [kind] if missing is None else []
        return DataCheck(data=kind, query=query, columns=tuple(result.columns))

    def stats(self, checks: dict[DataKind, DataCheck], kinds: list[DataKind]) -> int | None:
        """Read every query's counts in one statement; fill ``checks`` and the findings."""
        try:
            row = self._stats_row(checks, kinds)
        except UnknownFunctionError:
            if self.tokens != "ai" or self.client._functions != "auto":
                raise
            self.tokens = "legacy"  # the account lacks AI_COUNT_TOKENS
            row = self._stats_row(checks, kinds)
        except _CANNOT_RUN:
            raise
        except QueryError as exc:  # the queries compile but fail on their rows
            kind = kinds[0] if len(kinds) == 1 else None
            self.findings.append(_rules.query_failed_finding(kind, exc.message))
            return None
        parts, overlap = read_stats(row, kinds)
        for kind, (stats, samples) in parts.items():
            checks[kind] = checks[kind].model_copy(update={"stats": stats})
            self.findings += _rules.data_findings(
                kind, stats, self.spec, self.epochs, samples=samples
            )
        if overlap is None:
            return None
        found = _rules.overlap_finding(*overlap)
        self.findings += [found] if found is not None else []
        return overlap[0]

    def _stats_row(self, checks: dict[DataKind, DataCheck], kinds: list[DataKind]) -> Any:
        sources = [(kind, checks[kind].query) for kind in kinds]
        statement = stats_sql(
            sources, base_model=self.base_model, spec=self.spec, tokens=self.tokens
        )
        return self.execute(statement).rows[0]


def _cost(
    stats: DataStats | None,
    spec: _rules.BaseModelSpec | None,
    epochs: int | None,
    tokens: TokenCounter,
    rates: dict[str, float],
) -> CostEstimate | None:
    if stats is None or spec is None:
        return None
    low, high = _rules.trained_tokens(stats.input_tokens, epochs)
    rate = rates.get(spec.name)
    return CostEstimate(
        input_tokens=stats.input_tokens,
        tokens_counted_by="estimate" if tokens == "estimate" else "cortex",
        epochs=(epochs, epochs) if epochs else _rules.EPOCHS_RANGE,
        trained_tokens=(low, high),
        credits_per_million=rate,
        credits=None if rate is None else (low * rate / 1e6, high * rate / 1e6),
    )


def _notes(
    base_model: str,
    spec: _rules.BaseModelSpec | None,
    validation: object,
    epochs: int | None,
    cost: CostEstimate | None,
) -> list[Finding]:
    notes = []
    if validation is None:
        notes.append(_rules.finding("auto-validation-split"))
    if epochs is None and spec is not None:
        shown, limit = _rules.DEFAULT_EPOCHS_FOR_LIMIT, spec.row_limit(None)
        notes.append(_rules.finding("epochs-auto", epochs=shown, limit=limit))
    if cost is not None and cost.tokens_counted_by == "estimate":
        notes.append(_rules.finding("token-estimate", chars=CHARS_PER_TOKEN))
    if cost is not None and cost.credits is None:
        notes.append(_rules.finding("no-credit-rate", name=spec.name if spec else base_model))
    return notes


# -- rendering -----------------------------------------------------------------------------------

_COLUMNS = (("SEVERITY", 8), ("CODE", 21), ("DATA", 10), ("ROWS", 7))


def _headline(report: PreflightReport) -> str:
    epochs = report.max_epochs if report.max_epochs is not None else "auto"
    verdict = "OK" if report.ok else "Cortex would refuse this job"
    return (
        f"Preflight check of {report.base_model} (max_epochs={epochs}): {verdict}; "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s), "
        f"{len(report.notes)} note(s); {report.statements} statement(s), no Cortex credits spent"
    )


def _summary(report: PreflightReport) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for check in (report.training, report.validation):
        if check is not None and check.stats is not None:
            s = check.stats
            rows.append(
                (
                    check.data,
                    f"{s.rows:,} rows, {s.usable:,} usable; prompts up to "
                    f"{s.max_prompt_tokens:,} tokens, completions up to {s.max_completion_tokens:,}",
                )
            )
    cost = report.cost
    if cost is not None:
        epochs, trained = (_span(cost.epochs), _span(cost.trained_tokens))
        text = (
            f"{cost.input_tokens:,} input tokens ({cost.tokens_counted_by}) x {epochs} epoch(s) "
            f"= {trained} trained tokens; "
        )
        if cost.credits is None:
            text += "credits: no rate given"
        else:
            text += (
                f"about {_span(cost.credits)} credits at {cost.credits_per_million:g} per million"
            )
        rows.append(("cost", text))
    return rows


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if value >= 1 else f"{value:.6f}".rstrip("0").rstrip(".")


def _span(pair: tuple[float, float]) -> str:
    low, high = (_number(v) for v in pair)
    return low if low == high else f"{low} to {high}"


def _text(report: PreflightReport, width: int) -> str:
    lines = [*textwrap.wrap(_headline(report), width), ""]
    heads = (f"{name:>{size}}" if name == "ROWS" else f"{name:<{size}}" for name, size in _COLUMNS)
    lines.append(" ".join(heads) + "  MESSAGE")
    indent = " " * (sum(size + 1 for _, size in _COLUMNS) + 1)
    for f in report.findings:
        cells = (f.severity, f.code, f.data or "-", "-" if f.count is None else f"{f.count:,}")
        first = " ".join(
            f"{cell:>{size}}" if name == "ROWS" else f"{cell:<{size}}"
            for cell, (name, size) in zip(cells, _COLUMNS, strict=True)
        )
        body = textwrap.wrap(f.message, max(20, width - len(indent))) or [""]
        body += [f"e.g. {sample!r}" for sample in f.samples]
        lines.append(f"{first}  {body[0]}")
        lines.extend(indent + line for line in body[1:])
    summary = _summary(report)
    if summary:
        lines.append("")
        for label, text in summary:
            lines += textwrap.wrap(
                text, width, initial_indent=f"{label:<11}", subsequent_indent=" " * 11
            )
    return "\n".join(lines)


def _html(report: PreflightReport) -> str:
    def cell(value: object, tag: str = "td") -> str:
        return f"<{tag} style='text-align:left'>{html.escape(str(value))}</{tag}>"

    head = "".join(cell(name.lower(), "th") for name, _ in _COLUMNS) + cell("message", "th")
    body = []
    for f in report.findings:
        samples = "".join(f"<br><small>e.g. {html.escape(repr(s))}</small>" for s in f.samples)
        cells = (f.severity, f.code, f.data or "", "" if f.count is None else f"{f.count:,}")
        body.append(
            f"<tr>{''.join(cell(c) for c in cells)}"
            f"<td style='text-align:left'>{html.escape(f.message)}{samples}</td></tr>"
        )
    summary = "".join(f"<tr>{cell(k, 'th')}{cell(v)}</tr>" for k, v in _summary(report))
    return (
        f"<div><p>{html.escape(_headline(report))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        + (f"<table>{summary}</table>" if summary else "")
        + "</div>"
    )
