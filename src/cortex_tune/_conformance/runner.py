"""Running probes: each one once, through the client's funnel, recorded whatever happens.

A probe is a function of a :class:`Context` that runs its statement shape and returns a
:class:`Finding` (the raw answer, which is only ever described, and what it observed for the
contract rows it names). The runner turns findings and errors into :class:`ProbeRecord`\\ s:
an error from Snowflake is a finding too (``failed``, with its class, errno and SQLSTATE); an
exception of the probe itself is recorded as ``error`` with its class only.

Nothing is retried: the client runs with one attempt per statement, so no billed statement is
ever sent twice by cortex-tune.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cortex_tune._conformance.report import ProbeRecord
from cortex_tune._conformance.shape import base_sql_type, error_text, python_type, skeleton
from cortex_tune._core.errors import CortexError
from cortex_tune._core.identifiers import validate_name
from cortex_tune._core.literals import quote_literal
from cortex_tune._core.retry import RetryPolicy
from cortex_tune._core.statement import Statement

if TYPE_CHECKING:
    from cortex_tune._backends.base import Result
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: The type names SYSTEM$TYPEOF can begin with (Snowflake's data types, and NULL).
SQL_TYPES = frozenset(
    [
        "ARRAY",
        "BINARY",
        "BOOLEAN",
        "DATE",
        "FLOAT",
        "GEOGRAPHY",
        "GEOMETRY",
        "MAP",
        "NULL",
        "NUMBER",
        "OBJECT",
        "TIME",
        "TIMESTAMP_LTZ",
        "TIMESTAMP_NTZ",
        "TIMESTAMP_TZ",
        "VARCHAR",
        "VARIANT",
        "VECTOR",
    ]
)
#: A finding's answer when the probe has no single answer to describe.
NO_ANSWER: Any = object()
#: The name every probe table and model starts with, so a leftover is easy to recognise.
PREFIX = "CORTEX_TUNE_CONFORMANCE"


@dataclass(frozen=True)
class Settings:
    """What the probes run with.

    Attributes:
        model: The model every completion probe asks (one token at a time).
        finetune: Also run FINETUNE CREATE then CANCEL (a job is created, then cancelled).
        base_model: The base model of that job.
        prompt: The prompt of every completion probe (never written to the report).
        structured_tokens: ``max_tokens`` for the structured-output probes, whose smallest
            valid answer (``{"ok": true}``) is several tokens long.
    """

    model: str = "llama3.1-8b"
    finetune: bool = False
    base_model: str = "llama3.1-8b"
    prompt: str = "Reply with the single word: ok"
    structured_tokens: int = 16

    def to_dict(self) -> dict[str, Any]:
        """The settings a report shows (the prompt is left out)."""
        return {
            "model": self.model,
            "finetune": self.finetune,
            "base_model": self.base_model,
            "structured_max_tokens": self.structured_tokens,
        }


@dataclass
class Finding:
    """What a probe saw: its raw answer (described, never kept), observations and facts."""

    answer: Any = NO_ANSWER
    query_id: str | None = None
    observed: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    error: CortexError | None = None
    error_text: bool = False
    note: str | None = None
    skip: str | None = None


@dataclass(frozen=True)
class Probe:
    """One statement shape: its name, the contract rows it settles, and how to run it."""

    name: str
    rows: tuple[str, ...]
    shape: str
    billed: int
    run: Callable[[Context], Finding]
    enabled: Callable[[Settings], str | None] = lambda _settings: None


class Context:
    """What probes share: the client (one attempt per statement), settings, and helpers."""

    def __init__(self, cx: Cortex, settings: Settings) -> None:
        self.cx = cx.with_options(retry=RetryPolicy(attempts=1))
        self.settings = settings
        self.token = secrets.token_hex(4).upper()
        #: How RESULT_SCAN takes a query id here: "bound", "literal", or None (unusable).
        self.scan_form: str | None = "untried"
        #: Whether SYSTEM$TYPEOF over RESULT_SCAN answered: None until tried.
        self.typeof_works: bool | None = None
        self.sensitive: list[str] = [settings.prompt, *cx._secrets]

    def name(self, kind: str) -> str:
        """A fresh object name for this run, e.g. ``CORTEX_TUNE_CONFORMANCE_SRC_1A2B3C4D``."""
        name = f"{PREFIX}_{kind}_{self.token}"
        validate_name(name, what="table name")
        return name

    def run(self, statement: Statement) -> Result:
        """Run one statement through the client's funnel, once."""
        return self.cx._execute(statement, retry=False)

    def scan_statement(self, select: str, query_id: str) -> Statement:
        """``SELECT <select> FROM TABLE(RESULT_SCAN(<query id>))`` in the form that works."""
        if self.scan_form == "literal":
            arg = quote_literal(query_id)
            sql = f"SELECT {select} FROM TABLE(RESULT_SCAN({arg}))"  # noqa: S608 - quoted
            return Statement(sql, (), "sql")
        sql = f"SELECT {select} FROM TABLE(RESULT_SCAN(?))"  # noqa: S608 - a constant column list
        return Statement(sql, (query_id,), "sql")

    def sql_type(self, query_id: str | None) -> str | None:
        """The SQL type of the first column of an earlier result (SYSTEM$TYPEOF over
        RESULT_SCAN), or None when this account or engine cannot tell."""
        if query_id is None or self.scan_form in (None, "untried") or self.typeof_works is False:
            return None
        try:
            result = self.run(self.scan_statement("SYSTEM$TYPEOF($1)", query_id))
        except CortexError:
            self.typeof_works = False  # the same refusal would follow every answer
            return None
        typeof = base_sql_type(result.scalar())
        # An engine that ignores the select list (it answers the earlier result itself) is
        # not telling a type: only a SYSTEM$TYPEOF column holding a type name counts.
        named = bool(result.columns) and "TYPEOF" in result.columns[0].upper()
        self.typeof_works = named and typeof in SQL_TYPES
        return typeof if self.typeof_works else None


def run_probe(ctx: Context, probe: Probe) -> ProbeRecord:
    """Run ``probe`` once and record what happened, whatever happened."""
    record = ProbeRecord(probe.name, probe.rows, probe.shape, probe.billed)
    reason = probe.enabled(ctx.settings)
    if reason is not None:
        record.note = reason
        return record
    try:
        finding = probe.run(ctx)
    except CortexError as exc:
        finding = Finding(error=exc)
    except Exception as exc:  # a bug of the probe: keep the class, never the message
        log.debug("conformance probe %s broke: %s", probe.name, type(exc).__name__)
        record.status = "error"
        record.error = {"class": type(exc).__name__, "errno": None, "sqlstate": None}
        return record
    _fill(ctx, record, finding)
    return record


def _fill(ctx: Context, record: ProbeRecord, finding: Finding) -> None:
    record.observed = dict(finding.observed)
    record.facts = dict(finding.facts)
    record.note = finding.note
    if finding.skip is not None:
        record.note = finding.skip
        return
    if finding.error is not None:
        record.status = "failed"
        record.error = describe_error(finding.error, text=finding.error_text)
        record.query_id = finding.error.query_id
        return
    record.status = "ok"
    record.query_id = finding.query_id
    if finding.answer is not NO_ANSWER:
        record.answer = {
            "python_type": python_type(finding.answer),
            "sql_type": ctx.sql_type(finding.query_id),
            "skeleton": skeleton(finding.answer),
        }


def describe_error(error: CortexError, *, text: bool) -> dict[str, Any]:
    """An error's class and codes; its text only for probes whose inputs are all synthetic."""
    described: dict[str, Any] = {
        "class": type(error).__name__,
        "errno": error.errno,
        "sqlstate": error.sqlstate,
    }
    if text:
        described["text"] = error_text(error.message)
    return described


def refused(error: CortexError) -> str:
    """How a refusal reads in an observation: class, errno and SQLSTATE."""
    codes = ", ".join(
        f"{k} {v}" for k, v in (("errno", error.errno), ("sqlstate", error.sqlstate)) if v
    )
    return f"{type(error).__name__}" + (f" ({codes})" if codes else "")
