"""The emulator core: Cortex's FINETUNE semantics over a job store, shared by every fake backend.

Backends call the methods here with the values a SQL call would pass (strings, JSON text,
NULLs) and get back what Cortex returns (a job id, a SHOW array, a DESCRIBE object, a CANCEL
message). Training queries are run through a ``run_query`` callable the backend provides.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cortex_tune._core import rules as _rules
from cortex_tune._core.errors import InvalidIdentifierError
from cortex_tune._core.identifiers import normalise_part, split_name, validate_model_name
from cortex_tune._emulator import complete as _complete
from cortex_tune._emulator.adapter import Adapter
from cortex_tune._emulator.errors import (
    ERRNO_NOT_FOUND,
    SQLSTATE_NOT_FOUND,
    EngineError,
    bound_argument_refused,
    invalid_argument,
)
from cortex_tune._emulator.jobs import JobRecord, JobStore, epochs_from_options
from cortex_tune._emulator.models import OpenAIEndpoint, Responder

#: A function that runs a query and returns (column names, rows).
QueryRunner = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]

_WRAP = 'SELECT "PROMPT", "COMPLETION" FROM ({query})'
_DEFAULT_EPOCHS = 3
#: A FINETUNE call with a placeholder among its arguments.
_BOUND_FINETUNE = re.compile(r"FINETUNE\s*\([^)]*\?", re.I | re.S)
#: Every tenth row (by position) is held out for validation when no validation query is given.
_AUTO_SPLIT = 10
#: The calling session's current (database, schema), set by a SQL engine for one function call.
_SCOPE: ContextVar[tuple[str | None, str | None]] = ContextVar("_SCOPE", default=(None, None))


class Emulator:
    """An in-process Cortex: fine-tuning jobs, fine-tuned adapters and registered models.

    Args:
        path: A directory to keep jobs and adapters in, so they outlive the process; None keeps
            them in memory.
        clock: Seconds since the epoch; inject a fake clock to drive jobs in tests.
        tokens_per_second: Training speed: a job lasts ``trained_tokens / tokens_per_second``.
        pending_seconds: How long a job stays PENDING.
        min_duration: The shortest training time, in seconds.
        duration: When set, every job trains for exactly this many seconds.
        database: The current database that unqualified model names resolve in.
        schema: The current schema that unqualified model names resolve in.
        answer_shapes: How to answer where Snowflake's documentation is silent (see
            :class:`~cortex_tune._emulator.complete.AnswerShapes`); None for the defaults.
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
        tokens_per_second: float = 50_000.0,
        pending_seconds: float = 0.5,
        min_duration: float = 1.0,
        duration: float | None = None,
        database: str = "CORTEX_LOCAL",
        schema: str = "PUBLIC",
        answer_shapes: _complete.AnswerShapes | Mapping[str, str] | None = None,
    ) -> None:
        self.answer_shapes = _complete.AnswerShapes.of(answer_shapes)
        self.store = JobStore(path)
        self.clock = clock
        self.tokens_per_second = tokens_per_second
        self.pending_seconds = pending_seconds
        self.min_duration = min_duration
        self.duration = duration
        self.database = database
        self.schema = schema
        self.models: dict[str, Responder] = {}
        #: False emulates an account that refuses bound FINETUNE arguments (the docs show
        #: literals only and are silent on binds); cortex-tune then falls back to literals.
        self.accepts_bound_finetune = True
        #: Base models this account may not use (lower case): a legacy model it never used
        #: ("the account can't start using it. Queries and API calls that name the model
        #: fail."), or one its region does not offer. COMPLETE and COUNT_TOKENS refuse them as
        #: unknown models, AI_COUNT_TOKENS answers NULL, FINETUNE('CREATE') refuses them.
        self.unavailable_models: set[str] = set()
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.RLock()

    # -- registry --------------------------------------------------------------------------------

    def register_model(
        self, name: str, model: Responder | str, *, remote_model: str | None = None
    ) -> None:
        """Make base model ``name`` answer COMPLETE offline.

        Args:
            name: The Cortex model name, e.g. ``"llama3.1-70b"``.
            model: A callable taking a :class:`ModelRequest` and returning text (or a JSON
                value), or the base URL of an OpenAI-compatible endpoint.
            remote_model: The endpoint's model name, when ``model`` is a URL.
        """
        if isinstance(model, str):
            model = OpenAIEndpoint(model, model=remote_model or name)
        self.models[name.strip().lower()] = model

    @contextmanager
    def scope(self, database: str | None, schema: str | None) -> Iterator[None]:
        """Resolve unqualified model names in ``database.schema`` inside the block.

        A SQL engine wraps each Cortex function call in the calling session's current database
        and schema, as Snowflake saves and looks up models there; None keeps the default.
        """
        token = _SCOPE.set((database, schema))
        try:
            yield
        finally:
            _SCOPE.reset(token)

    def check_binds(self, sql: str, params: Any) -> None:
        """Refuse a FINETUNE call with bound arguments when this account takes constants only.

        Raises:
            EngineError: ``sql`` calls FINETUNE with a ``?`` placeholder and bound values are
                refused (see ``accepts_bound_finetune``).
        """
        if self.accepts_bound_finetune or not params:
            return
        if _BOUND_FINETUNE.search(sql):
            raise bound_argument_refused("FINETUNE")

    def unavailable(self, model: str) -> bool:
        """Whether this account may not use base model ``model`` (see unavailable_models)."""
        return model.strip().lower() in self.unavailable_models

    def now_ms(self) -> int:
        """The emulator's clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    # -- FINETUNE --------------------------------------------------------------------------------

    def finetune(
        self, command: str, args: Sequence[Any], run_query: QueryRunner | None = None
    ) -> Any:
        """SNOWFLAKE.CORTEX.FINETUNE(command, *args) with NULL arguments passed as None."""
        verb = str(command or "").strip().upper()
        args = list(args)
        while args and args[-1] is None:
            args.pop()
        if verb == "SHOW":
            return [job.summary(self.now_ms()) for job in self.store.all()]
        if verb in ("DESCRIBE", "CANCEL"):
            if len(args) != 1 or not isinstance(args[0], str):
                raise invalid_argument(f"FINETUNE('{verb}') takes one job id")
            return self.describe(args[0]) if verb == "DESCRIBE" else self.cancel(args[0])
        if verb == "CREATE":
            if not 3 <= len(args) <= 5:
                raise invalid_argument(
                    "FINETUNE('CREATE') takes a name, a base model, a training query and "
                    "optionally a validation query and an options object"
                )
            if run_query is None:
                raise invalid_argument("this engine cannot run training queries")
            padded = [*args, None, None][:5]
            return self.create(*padded, run_query=run_query)
        raise invalid_argument(
            f"invalid FINETUNE command {command!r}; use 'CREATE', 'SHOW', 'DESCRIBE' or 'CANCEL'"
        )

    def describe(self, job_id: str) -> dict[str, Any]:
        """FINETUNE('DESCRIBE', job_id)."""
        return self._job(job_id).state(self.now_ms())

    def cancel(self, job_id: str) -> str:
        """FINETUNE('CANCEL', job_id)."""
        with self._lock:
            job = self._job(job_id)
            status = job.state(self.now_ms())["status"]
            if status in ("SUCCESS", "ERROR", "CANCELLED"):
                raise invalid_argument(
                    f"Cannot cancel fine-tuning job {job_id}: it has already ended ({status})"
                )
            job.cancelled_ms = self.now_ms()
            self.store.put(job)
        return f"Canceled Cortex Fine-tuning job: {job_id}"

    def _job(self, job_id: str) -> JobRecord:
        job = self.store.get(job_id)
        if job is None:
            raise EngineError(
                f"Fine-tuning job {job_id} does not exist or not authorized.",
                errno=ERRNO_NOT_FOUND,
                sqlstate=SQLSTATE_NOT_FOUND,
            )
        return job

    def create(
        self,
        name: Any,
        base_model: Any,
        training: Any,
        validation: Any,
        options: Any,
        *,
        run_query: QueryRunner,
    ) -> str:
        """FINETUNE('CREATE', ...): validate synchronously what Cortex refuses at once, then
        start a job that fails (ERROR) on data problems, as Cortex does."""
        if (
            not isinstance(name, str)
            or not isinstance(base_model, str)
            or not isinstance(training, str)
        ):
            raise invalid_argument(
                "FINETUNE('CREATE'): name, base model and training query must be strings"
            )
        try:
            validate_model_name(name)
        except InvalidIdentifierError as exc:
            raise invalid_argument(exc.message) from exc
        model_name = self._qualified(name)
        refused = _rules.refusal(_rules.base_model_findings(base_model))
        spec = _rules.base_model_spec(base_model)
        if self.unavailable(base_model):
            spec = None
        if refused is not None or spec is None:
            raise invalid_argument(refused or _rules.unknown_base_model_message(base_model))
        epochs = epochs_from_options(options)
        job = JobRecord(
            id=f"ft_{uuid.uuid4()}",
            name=name,
            model=model_name,
            base_model=spec.name,
            training_data=training,
            validation_data=validation or "",
            created_ms=self.now_ms(),
            pending_s=self.pending_seconds,
            duration_s=0.0,
            options={"max_epochs": epochs} if epochs is not None else {},
        )
        try:
            train = self._load(training, run_query)
            valid = self._load(validation, run_query) if validation else None
            self._train(job, spec, train, valid, epochs)
        except EngineError as exc:
            job.error = {"code": "INVALID_PARAMETER_VALUE", "message": exc.msg}
        with self._lock:
            if job.error is None:
                job.model = self._unique_model_name(model_name)
            self.store.put(job)
        return job.id

    def _load(self, query: str, run_query: QueryRunner) -> list[tuple[Any, Any]]:
        wrapped = _WRAP.format(query=query)
        prefix = f"Failed to query input data for Fine-tuning. Failed to execute query: {wrapped}. "
        if _rules.has_trailing_semicolon(query):
            position = len(_WRAP.split("{")[0]) + len(query.rstrip())
            raise EngineError(
                prefix + "001003 (42000): SQL compilation error:\n"
                f"syntax error line 1 at position {position} unexpected ';'."
            )
        try:
            columns, rows = run_query(query)
        except EngineError as exc:
            raise EngineError(prefix + exc.msg) from exc
        missing = _rules.missing_columns(columns)
        if missing:
            raise EngineError(
                prefix + "000904 (42000): SQL compilation error: error line 1 at position 7\n"
                f"invalid identifier '\"{missing[0]}\"'. The query returned columns: "
                + ", ".join(columns)
            )
        p, c = columns.index("PROMPT"), columns.index("COMPLETION")
        return [(row[p], row[c]) for row in rows]

    def _train(
        self,
        job: JobRecord,
        spec: _rules.BaseModelSpec,
        train: list[tuple[Any, Any]],
        valid: list[tuple[Any, Any]] | None,
        epochs: int | None,
    ) -> None:
        stats = _rules.stats_from_pairs(train, spec)
        refused = _rules.refusal(_rules.data_findings("training", stats, spec, epochs))
        if refused is not None:
            raise EngineError(refused)
        pairs = [(str(p), str(c)) for p, c in train if p is not None and c is not None]
        if valid is None:
            held_out = pairs[_AUTO_SPLIT - 1 :: _AUTO_SPLIT]
            kept = [pair for i, pair in enumerate(pairs) if i % _AUTO_SPLIT != _AUTO_SPLIT - 1]
            pairs, valid_pairs = (kept, held_out) if kept and held_out else (pairs, [])
        else:
            valid_pairs = [(str(p), str(c)) for p, c in valid if p is not None and c is not None]
        input_tokens = sum(
            min(_rules.estimate_tokens(p), spec.prompt_tokens)
            + min(_rules.estimate_tokens(c), spec.completion_tokens)
            for p, c in pairs
        )
        job.trained_tokens = input_tokens * (epochs or _DEFAULT_EPOCHS)
        job.duration_s = (
            self.duration
            if self.duration is not None
            else max(self.min_duration, job.trained_tokens / self.tokens_per_second)
        )
        adapter = Adapter(pairs)
        job.training_result = {
            "training_loss": adapter.loss(pairs),
            "validation_loss": adapter.loss(valid_pairs),
        }
        self.store.put_pairs(job.id, pairs)
        self._adapters[job.id] = adapter

    # -- model names -----------------------------------------------------------------------------

    def _qualified(self, name: str) -> str:
        try:
            parts = [normalise_part(p) for p in split_name(name)]
        except InvalidIdentifierError as exc:
            raise invalid_argument(f"invalid model name {name!r}: {exc.message}") from exc
        database, schema = _SCOPE.get()
        defaults = [database or self.database, schema or self.schema]
        return ".".join([*defaults[: 3 - len(parts)], *parts])

    def _unique_model_name(self, model: str) -> str:
        taken = {j.model for j in self.store.all() if j.error is None}
        candidate, n = model, 0
        while candidate in taken:
            n += 1
            candidate = f"{model}_{n}"
        return candidate

    def fine_tuned(self, model: str) -> tuple[JobRecord, Adapter] | None:
        """The successful job and adapter behind a fine-tuned model name, or None."""
        try:
            qualified = self._qualified(model)
        except EngineError:
            return None
        now = self.now_ms()
        for job in reversed(self.store.all()):
            if job.model == qualified and job.state(now)["status"] == "SUCCESS":
                return job, self._adapter(job)
        return None

    def _adapter(self, job: JobRecord) -> Adapter:
        with self._lock:
            adapter = self._adapters.get(job.id)
            if adapter is None:
                adapter = self._adapters[job.id] = Adapter(self.store.get_pairs(job.id))
            return adapter

    # -- COMPLETE and friends (see complete.py) ----------------------------------------------------

    def complete(
        self, model: Any, prompt: Any, options: Any = None, *, three_args: bool = False
    ) -> str:
        """SNOWFLAKE.CORTEX.COMPLETE(model, prompt [, options])."""
        return _complete.legacy_complete(self, model, prompt, options, three_args=three_args)

    def try_complete(
        self, model: Any, prompt: Any, options: Any = None, *, three_args: bool = False
    ) -> str | None:
        """SNOWFLAKE.CORTEX.TRY_COMPLETE: NULL instead of an error."""
        try:
            return self.complete(model, prompt, options, three_args=three_args)
        except EngineError:
            return None

    def ai_complete(
        self,
        model: Any,
        prompt: Any,
        model_parameters: Any = None,
        response_format: Any = None,
        show_details: Any = None,
        return_error_details: Any = None,
    ) -> Any:
        """AI_COMPLETE(model, prompt, model_parameters, response_format, show_details,
        return_error_details): NULL for a failed row unless return_error_details."""
        return _complete.ai_complete(
            self,
            model,
            prompt,
            model_parameters=model_parameters,
            response_format=response_format,
            show_details=show_details,
            return_error_details=return_error_details,
        )

    def count_tokens(self, model: Any, text: Any) -> int:
        """SNOWFLAKE.CORTEX.COUNT_TOKENS(model, text)."""
        return _complete.count_tokens(self, model, text)

    def ai_count_tokens(self, function: Any, model: Any, text: Any) -> int | None:
        """AI_COUNT_TOKENS(function, model, text)."""
        return _complete.ai_count_tokens(self, function, model, text)
