"""Typed, forward-compatible models of runs: warehouse work recorded in the runs table.

A *run* is long warehouse work (a table of completions, an evaluation) started by cortex-tune
as one or more statements submitted asynchronously. Each statement is a :class:`RunPart`, one
row of the runs table; a :class:`Run` gathers the parts of one run id. Like fine-tuning jobs,
the models keep unknown fields (``extra="allow"``) and parse any status string, known or not.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cortex_tune._core.models import as_received


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


class RunStatus(str, enum.Enum):
    """The state of a run, from the states of its statements."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    #: A status this version of cortex-tune does not know; the raw text is on ``status_raw``.
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED: nothing of the run runs any more."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)

    @classmethod
    def parse(cls, value: object) -> RunStatus:
        """Map a status string to a member; unknown strings become UNKNOWN."""
        text = str(value or "").strip().upper()
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


class PartStatus(str, enum.Enum):
    """The state of one statement of a run, as the runs table records it."""

    #: Claimed in the runs table; its statement is being submitted (it has no query id yet).
    SUBMITTING = "SUBMITTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    #: Claimed but never submitted (its client went away first, or gave way to another).
    ABANDONED = "ABANDONED"
    #: Snowflake no longer knows its statement (its session ended with it, or its history aged).
    LOST = "LOST"
    UNKNOWN = "UNKNOWN"

    @property
    def live(self) -> bool:
        """Whether the statement may still be running (or be about to run)."""
        return self in (PartStatus.SUBMITTING, PartStatus.RUNNING)

    @classmethod
    def parse(cls, value: object) -> PartStatus:
        """Map a status string to a member; unknown strings become UNKNOWN."""
        try:
            return cls(str(value or "").strip().upper())
        except ValueError:
            return cls.UNKNOWN


class RunPart(_Model):
    """One statement of a run: one row of the runs table."""

    run_id: str
    """The run this statement belongs to."""
    part: int = 0
    """Its number within the run."""
    kind: str = ""
    """What the run does: ``complete_table``, ``evaluate``."""
    target: str = ""
    """What it writes or answers: the results table, or the model evaluated."""
    lane: int | None = None
    """The key partition it covers (-1: the probe bucket); None for a run of one statement."""
    marker: str = ""
    """The request marker at the end of its text, found in the query history by any process."""
    session_id: str | None = None
    """The session that submitted it (its query history holds the statement)."""
    user_name: str | None = None
    """The user that submitted it (only that user can read its history and result)."""
    query_id: str | None = None
    """Snowflake's query id, once recorded."""
    status: PartStatus = PartStatus.UNKNOWN
    """Its state."""
    status_raw: str | None = None
    """The state exactly as the table holds it."""
    rows_todo: int | None = None
    """The rows it may answer at most (its LIMIT), when bounded."""
    rows_done: int | None = None
    """The rows it inserted, once it ended (from the query history)."""
    error: str | None = None
    """Why it failed."""
    created_on: dt.datetime | None = None
    """When it was claimed (Snowflake's clock)."""
    updated_on: dt.datetime | None = None
    """When its row last changed."""
    seconds: float | None = None
    """How long its statement ran (from the query history), once it ended."""
    work: str = ""
    """The identity of the work (a digest of kind, target and parameters)."""
    parameters: dict[str, Any] = Field(default_factory=dict, repr=False)
    """What the run computes (model, source, key, prompt, options): its identity."""
    plan: dict[str, Any] = Field(default_factory=dict, repr=False)
    """How the run was split (lanes, buckets), the rows it had to do, and its baseline."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
    """The row as read."""

    @model_validator(mode="before")
    @classmethod
    def _as_received(cls, data: Any) -> Any:
        return as_received(data, PartStatus.parse, PartStatus)

    @property
    def live(self) -> bool:
        """Whether it may still be running (or be about to run)."""
        return self.status.live


class Run(_Model):
    """A run: long warehouse work recorded in the runs table, and how far it got.

    ``Run.model_validate_json(text)`` reads a stored run back, whatever its status.
    """

    id: str
    """The run id, e.g. ``run_6556e15c...``."""
    kind: str = ""
    """What it does: ``complete_table``, ``evaluate``."""
    target: str = ""
    """The results table (complete_table) or the model (evaluate)."""
    status: RunStatus = RunStatus.UNKNOWN
    """Its state: RUNNING while any statement runs."""
    status_raw: str | None = Field(default=None, repr=False)
    """The state as computed or received."""
    rows_todo: int | None = None
    """Rows it had to answer when it started (after ``limit``), when known."""
    rows_done: int = 0
    """Rows answered so far (failed rows included), as its results table shows them."""
    rows_failed: int = 0
    """Rows answered with an error so far."""
    tokens: int = 0
    """Tokens used so far, as Cortex reported them."""
    progress: float = Field(default=0.0, repr=False)
    """Fraction done, 0.0 to 1.0: rows answered, plus an estimate for statements still running
    from the pace of those that ended (a statement's rows appear only when it commits)."""
    error: str | None = None
    """Why it failed, on FAILED."""
    created_on: dt.datetime | None = Field(default=None, repr=False)
    """When it started (Snowflake's clock)."""
    updated_on: dt.datetime | None = Field(default=None, repr=False)
    """When its record last changed."""
    parameters: dict[str, Any] = Field(default_factory=dict, repr=False)
    """What it computes: model, source, key, prompt, options."""
    parts: list[RunPart] = Field(default_factory=list, repr=False)
    """Its statements, in the order they were claimed."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
    """The payload as received, when read back from JSON."""

    @model_validator(mode="before")
    @classmethod
    def _as_received(cls, data: Any) -> Any:
        return as_received(data, RunStatus.parse, RunStatus)

    @property
    def is_terminal(self) -> bool:
        """True once nothing of the run runs any more."""
        return self.status.is_terminal

    @property
    def in_progress(self) -> bool:
        """True while statements run (for the polling schedule)."""
        return self.status is RunStatus.RUNNING

    @property
    def succeeded(self) -> bool:
        """True when every statement ended well."""
        return self.status is RunStatus.SUCCEEDED

    @property
    def query_ids(self) -> list[str]:
        """The query ids of its statements, to look up in Snowsight's Query History."""
        return [p.query_id for p in self.parts if p.query_id]

    def _repr_html_(self) -> str:
        rows = [
            ("id", self.id),
            ("kind", self.kind),
            ("target", self.target),
            ("status", self.status_raw or self.status.value),
            ("rows", f"{self.rows_done:,} of {self.rows_todo:,}" if self.rows_todo else ""),
            ("tokens", f"{self.tokens:,}" if self.tokens else ""),
            ("statements", str(len(self.parts))),
            ("error", self.error or ""),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
            if v
        )
        return f"<table><caption>Run</caption>{body}</table>"
