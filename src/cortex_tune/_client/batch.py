"""The client's set-based methods: batches of prompts, tables, evaluation (mixed into Cortex)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.progress import ProgressOption
from cortex_tune._doctor import checks as _doctor
from cortex_tune._doctor.checks import DoctorReport
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune._inference import batch as _batch
from cortex_tune._inference import evaluate as _evaluate
from cortex_tune._inference.batch import BatchResult, TableRunSummary
from cortex_tune._inference.evaluate import Comparison, EvalReport, Metric
from cortex_tune._inference.sql_batch import Template
from cortex_tune._runs.models import Run
from cortex_tune.sql import PromptInput, complete_options

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex


def _client(mixin: BatchMethods) -> Cortex:
    return cast("Cortex", mixin)


class BatchMethods:
    """Inference at scale, pushed down to the warehouse."""

    def complete_many(
        self,
        model: str,
        prompts: Sequence[PromptInput],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        max_bytes: int = _batch.BATCH_BYTES,
        max_rows: int = _batch.BATCH_ROWS,
    ) -> list[BatchResult]:
        """Complete many prompts, a handful of statements in all, results in input order.

        The prompts travel as one bound JSON array per statement, flattened server-side, never
        one statement per prompt: each statement, SQL text and bound values together, stays
        under ``max_bytes`` (Snowflake's 1 MB guidance by default) and ``max_rows``, packed so
        that there are as few as possible. A statement whose answer is lost is recovered from
        its first run (the query history), never paid for twice. A
        failing row does not fail the batch: its :class:`BatchResult` carries the error
        (TRY_COMPLETE, or AI_COMPLETE with ``return_error_details``).

        Example:
            >>> results = cx.complete_many("llama3.1-8b", ["Hi", "Bonjour"])  # doctest: +SKIP
            >>> [r.text for r in results]  # doctest: +SKIP
        """
        options = complete_options(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            guardrails=guardrails,
            response_format=response_format,
            model=model,
        )
        return _batch.complete_many(
            _client(self),
            model,
            prompts,
            options=options,
            response_format=response_format,
            max_bytes=max_bytes,
            max_rows=max_rows,
        )

    @overload
    def complete_table(
        self,
        model: str,
        *,
        source: str,
        into: str,
        key: str,
        prompt: str | Template = "PROMPT",
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        limit: int | None = None,
        token_budget: int | None = None,
        chunk_rows: int | None = None,
        retry_failed: bool = False,
        parallel: int | None = None,
        wait: Literal[True] = True,
        progress: ProgressOption = None,
    ) -> TableRunSummary: ...

    @overload
    def complete_table(
        self,
        model: str,
        *,
        source: str,
        into: str,
        key: str,
        prompt: str | Template = "PROMPT",
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        limit: int | None = None,
        token_budget: int | None = None,
        chunk_rows: int | None = None,
        retry_failed: bool = False,
        parallel: int | None = None,
        wait: Literal[False],
        progress: ProgressOption = None,
    ) -> Run: ...

    @overload
    def complete_table(
        self,
        model: str,
        *,
        source: str,
        into: str,
        key: str,
        prompt: str | Template = "PROMPT",
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        limit: int | None = None,
        token_budget: int | None = None,
        chunk_rows: int | None = None,
        retry_failed: bool = False,
        parallel: int | None = None,
        wait: bool = True,
        progress: ProgressOption = None,
    ) -> TableRunSummary | Run: ...

    def complete_table(
        self,
        model: str,
        *,
        source: str,
        into: str,
        key: str,
        prompt: str | Template = "PROMPT",
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        limit: int | None = None,
        token_budget: int | None = None,
        chunk_rows: int | None = None,
        retry_failed: bool = False,
        parallel: int | None = None,
        wait: bool = True,
        progress: ProgressOption = None,
    ) -> TableRunSummary | Run:
        """Answer every row of ``source`` in the warehouse into table ``into``.

        Runs ``INSERT INTO into SELECT key, COMPLETE(...) FROM (source)``; the results table
        (``key``, ``RESPONSE``, ``ERROR``, ``TOKENS``) is created if missing. Resumable: keys
        already in ``into`` are skipped, so a re-run finishes what an interrupted run left
        (``retry_failed=True`` answers failed rows again). ``limit`` caps the rows of this run;
        ``token_budget`` stops cleanly after the chunks that reach it (chunks of
        ``chunk_rows``, 1,000 by default when a budget is set).

        The work is a *run* (see :attr:`runs`): its statements are sent asynchronously and
        recorded in the runs table first, so they go on in Snowflake if this process dies,
        and calling the same work again (same table, model, source, key, prompt, options)
        while they run attaches to them rather than answering (and paying for) their keys a
        second time; only keys no running statement covers are started. A large table is split
        into ``parallel`` disjoint key partitions answered by concurrent statements.

        Args:
            model: The model to answer with.
            source: A table name or a query.
            into: The results table.
            key: The column identifying a row (unique, not NULL).
            prompt: A column name, or a :class:`Template` built from columns.
            parallel: Concurrent statements (key partitions), 1 to 32; by default one below
                10,000 rows and 4 above (a warehouse runs 8 statements at once by default,
                MAX_CONCURRENCY_LEVEL, and queues the rest; a multi-cluster warehouse adds
                clusters for queued statements).
            wait: False returns the :class:`Run` once its statements are sent (wait for it
                with ``cx.runs.wait(run.id)``, from this process or another).
            progress: While waiting, None shows a bar when interactive (rows done of rows to
                do, tokens); True always; False never; a callable receives every state seen.

        Returns:
            A :class:`TableRunSummary` (its ``run_id`` names the run), or the :class:`Run`
            with ``wait=False``.

        Example:
            >>> cx.complete_table("SUPPORT_MISTRAL_7B", source="EMAILS", into="REPLIES",
            ...                   key="ID", prompt=Template("Reply to: {BODY}"))  # doctest: +SKIP
        """
        options = complete_options(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            guardrails=guardrails,
            response_format=response_format,
            model=model,
        )
        cx = _client(self)
        if cx.runs.table is None:  # runs are not recorded: statements of this client only
            if not wait:
                raise ConfigurationError("wait=False needs a runs table (runs_table=None)")
            return _batch.complete_table(
                cx,
                model,
                source=source,
                into=into,
                key=key,
                prompt=prompt,
                options=options,
                limit=limit,
                token_budget=token_budget,
                chunk_rows=chunk_rows,
                retry_failed=retry_failed,
            )
        from cortex_tune._runs import calls
        from cortex_tune._runs.table import Limits

        return calls.complete_table(
            cx,
            model,
            source=source,
            into=into,
            key=key,
            prompt=prompt,
            options=options,
            limits=Limits(limit, token_budget, chunk_rows, parallel),
            retry_failed=retry_failed,
            wait=wait,
            progress=progress,
        )

    def read_table(
        self, table: str, *, key: str | None = None, batch_size: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream a table's rows in batches of dicts, holding one batch in memory at a time."""
        return _batch.read_table(_client(self), table, key=key, batch_size=batch_size)

    @overload
    def evaluate(
        self,
        model: str,
        data: str | TrainingData,
        *,
        metric: Metric = "exact",
        wait: Literal[True] = True,
    ) -> EvalReport: ...

    @overload
    def evaluate(
        self,
        model: str,
        data: str | TrainingData,
        *,
        metric: Metric = "exact",
        wait: Literal[False],
    ) -> Run: ...

    def evaluate(
        self,
        model: str,
        data: str | TrainingData,
        *,
        metric: Metric = "exact",
        wait: bool = True,
    ) -> EvalReport | Run:
        """Answer ``data`` (a query or TrainingData with prompt and completion) and score it.

        One statement answers every row and marks matches in SQL (``exact`` uses EQUAL_NULL,
        as the guides' ACCURACY function; ``normalized`` trims and ignores case; ``json``
        compares the expected JSON object field by field). It is a run (see :attr:`runs`):
        sent asynchronously and recorded, and the same evaluation asked for again while it
        runs waits for it instead of paying twice. ``wait=False`` returns the :class:`Run`;
        ``cx.runs.report(run.id)`` reads its :class:`EvalReport` once it ended (for 24 hours).
        """
        cx = _client(self)
        if cx.runs.table is None:
            return _evaluate.evaluate(cx, model, data, metric=metric)
        from cortex_tune._runs import calls

        return calls.evaluate(cx, model, data, metric=metric, wait=wait)

    def doctor(self) -> DoctorReport:
        """Check the connection is ready for Cortex: warehouse, roles, functions, a base model.

        One line per check with a remedy for each failure; nothing raises. The base-model
        check asks for one token of completion; nothing else is billed.
        """
        return _doctor.doctor(_client(self))

    def compare(
        self,
        models: Sequence[str],
        data: str | TrainingData,
        *,
        metric: Metric = "exact",
        wait: bool = True,
    ) -> Comparison | list[Run]:
        """Evaluate several models (base, fine-tuned, teacher) on the same data, side by side.

        Every model's evaluation is sent at once (concurrent statements), then awaited;
        ``wait=False`` returns their runs.
        """
        cx = _client(self)
        if cx.runs.table is None:
            return Comparison([self.evaluate(m, data, metric=metric) for m in models])
        from cortex_tune._runs import calls

        return calls.compare(cx, models, data, metric=metric, wait=wait)
