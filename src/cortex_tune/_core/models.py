"""Typed, forward-compatible models of what Cortex returns.

Every model keeps unknown server fields (``extra="allow"``) and the raw payload it was built
from, so a new field never breaks an old client and nothing the server said is lost.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
import re
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

T = TypeVar("T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


def as_received(data: Any, parse: Callable[[object], Any], kind: type) -> Any:
    """A model's payload as received: the payload kept as ``raw``, the status text kept as
    ``status_raw``, and the status read by ``parse`` (which maps unknown text to UNKNOWN), so
    that a status this version does not know never fails validation."""
    if not isinstance(data, dict) or "status" not in data:
        return data
    status = data["status"]
    if isinstance(status, kind):
        return data
    fields = dict(data)
    fields.setdefault("raw", dict(data))
    fields.setdefault("status_raw", None if status is None else str(status))
    fields["status"] = parse(status)
    return fields


class JobStatus(str, enum.Enum):
    """The state of a fine-tuning job, as DESCRIBE and SHOW report it."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    #: A status this version of cortex-tune does not know; the raw text is on ``status_raw``.
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, ERROR and CANCELLED: the job will not change any more."""
        return self in _TERMINAL

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Map a server status string to a member; unknown strings become UNKNOWN."""
        text = str(value or "").strip().upper().replace(" ", "_")
        text = _ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


_TERMINAL = frozenset({JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELLED})
# Spellings seen outside the documented enumeration (SDK docstrings, the CANCEL message).
_ALIASES = {"RUNNING": "IN_PROGRESS", "CANCELED": "CANCELLED", "FAILED": "ERROR"}


def _epoch_to_datetime(value: Any) -> dt.datetime | None:
    """Epoch milliseconds (FINETUNE) or seconds (COMPLETE) to an aware UTC datetime.

    An ISO 8601 text (what ``model_dump_json`` writes) is read back too.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        value = _from_iso(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    # ValueError (not TypeError/OverflowError) so that pydantic reports a validation error.
    try:
        number = float(value)
        # Anything past the year 5138 in seconds is surely milliseconds.
        if abs(number) > 1e11:
            number /= 1000.0
        return dt.datetime.fromtimestamp(number, tz=dt.timezone.utc)
    except (TypeError, OverflowError, OSError) as exc:
        raise ValueError(f"not an epoch timestamp: {value!r}") from exc


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _from_iso(text: str) -> dt.datetime:
    try:  # Python 3.10 reads no "Z" suffix
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an epoch timestamp nor an ISO 8601 time: {text!r}") from exc


class JobError(_Model):
    """Why a job failed, from DESCRIBE's ``error`` object."""

    code: str | None = None
    """Cortex's error code, e.g. ``INVALID_PARAMETER_VALUE``."""
    message: str = ""
    """Cortex's explanation, often quoting the failing SQL."""


class TrainingResult(_Model):
    """Losses reported by a successful job (extra metrics are kept as extra fields)."""

    training_loss: float | None = None
    """Loss on the training data at the end of training."""
    validation_loss: float | None = None
    """Loss on the validation data at the end of training."""


class JobSummary(_Model):
    """One entry of FINETUNE('SHOW'): an id and a status, sometimes a little more.

    Forward-compatible on its own: ``JobSummary.model_validate_json(text)`` of a SHOW entry
    with a status this version does not know gives ``JobStatus.UNKNOWN``, keeps the text on
    ``status_raw`` and the whole payload on ``raw``.
    """

    id: str
    """The job id, e.g. ``ft_6556e15c-...``."""
    status: JobStatus = JobStatus.UNKNOWN
    """The job's state."""
    status_raw: str | None = None
    """The status text exactly as the server sent it."""
    base_model: str | None = None
    """The base model being fine-tuned."""
    created_on: dt.datetime | None = None
    """When the job was created (UTC)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
    """The payload as received."""

    @model_validator(mode="before")
    @classmethod
    def _as_received(cls, data: Any) -> Any:
        """Keep the payload and the status text; read any status string, known or not."""
        return as_received(data, JobStatus.parse, JobStatus)

    @field_validator("created_on", mode="before")
    @classmethod
    def _created(cls, value: Any) -> dt.datetime | None:
        return _epoch_to_datetime(value)


class FineTuneJob(JobSummary):
    """A fine-tuning job as FINETUNE('DESCRIBE') reports it.

    ``FineTuneJob.model_validate_json(text)`` reads a stored DESCRIBE answer, whatever its
    status (see :class:`JobSummary`).
    """

    progress: float = 0.0
    """Fraction done, 0.0 to 1.0."""
    model: str | None = None
    """On SUCCESS: the name to pass to COMPLETE (often fully qualified)."""
    finished_on: dt.datetime | None = None
    """When the job ended (UTC)."""
    training_data: str | None = None
    """The training query the job ran."""
    validation_data: str | None = None
    """The validation query (empty when Cortex split the training data itself)."""
    trained_tokens: int | None = None
    """Tokens trained on: input tokens x epochs. Billing is per trained token."""
    training_result: TrainingResult | None = None
    """Losses, on SUCCESS."""
    error: JobError | None = None
    """Why the job failed, on ERROR."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Hyperparameters the job used, e.g. ``{"max_epochs": 3}``."""

    @field_validator("finished_on", mode="before")
    @classmethod
    def _finished(cls, value: Any) -> dt.datetime | None:
        return _epoch_to_datetime(value)

    @property
    def is_terminal(self) -> bool:
        """True once the job will not change any more."""
        return self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        """True when the job ended in SUCCESS."""
        return self.status is JobStatus.SUCCESS

    def _repr_html_(self) -> str:
        rows = [
            ("id", self.id),
            ("status", self.status_raw or self.status.value),
            ("progress", f"{self.progress:.0%}"),
            ("base model", self.base_model or ""),
            ("model", self.model or ""),
            ("trained tokens", f"{self.trained_tokens:,}" if self.trained_tokens else ""),
        ]
        if self.training_result is not None:
            rows.append(("training loss", str(self.training_result.training_loss)))
            rows.append(("validation loss", str(self.training_result.validation_loss)))
        if self.error is not None:
            rows.append(("error", self.error.message))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
            if v
        )
        return f"<table><caption>FineTuneJob</caption>{body}</table>"


class Usage(_Model):
    """Token counts of one completion."""

    prompt_tokens: int | None = None
    """Tokens in the prompt (input)."""
    completion_tokens: int | None = None
    """Tokens generated (output)."""
    guard_tokens: int | None = None
    """Tokens Cortex Guard processed, when guardrails were on (any spelling of the key)."""
    total_tokens: int | None = None
    """All tokens billed for the call."""


class Message(_Model):
    """One turn of a conversation for COMPLETE."""

    role: Literal["system", "user", "assistant"]
    """Who speaks: at most one system message, first."""
    content: str
    """What they say."""

    @classmethod
    def system(cls, content: str) -> Message:
        """A system instruction."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        """A user turn."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str) -> Message:
        """An assistant turn (for few-shot examples or history)."""
        return cls(role="assistant", content=content)


class ToolCall(_Model):
    """A tool the model asked to call (Chat Completions ``tool_calls``)."""

    id: str
    """The call's id; the tool's answer refers to it (``tool_call_id``)."""
    name: str
    """The tool's (function's) name."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The arguments, decoded from the model's JSON."""
    arguments_json: str = "{}"
    """The arguments exactly as the model wrote them."""
    parsed: Any = None
    """The arguments validated into the tool's pydantic model, when the tool has one."""


class Completion(_Model, Generic[T]):
    """The answer of one COMPLETE / AI_COMPLETE call.

    ``str(completion)`` is the text. With a pydantic ``response_format``, ``parsed`` holds the
    validated object.
    """

    text: str
    """The generated text (for structured output: the JSON text)."""
    model: str | None = None
    """The model that answered, when Cortex said so."""
    created: dt.datetime | None = None
    """When Cortex answered (UTC), when it said so."""
    usage: Usage | None = None
    """Token counts, when Cortex returned them (options or show_details)."""
    structured: Any = None
    """The JSON value for structured output, before validation into ``parsed``."""
    parsed: T | None = None
    """The structured output validated into the response_format model."""
    finish_reason: str | None = None
    """Why generation stopped (``stop``, ``length``, ``tool_calls``...), when Cortex said so."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Tools the model asked to call (Chat Completions API with ``tools=``)."""
    raw: Any = Field(default=None, repr=False, exclude=True)
    """The value as received."""

    @field_validator("created", mode="before")
    @classmethod
    def _created(cls, value: Any) -> dt.datetime | None:
        return _epoch_to_datetime(value)

    def __str__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        meta = []
        if self.model:
            meta.append(f"model: {html.escape(self.model)}")
        if self.usage and self.usage.total_tokens is not None:
            meta.append(f"tokens: {self.usage.total_tokens}")
        return (
            f"<div><pre style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"
            f"<small>{' · '.join(meta)}</small></div>"
        )
