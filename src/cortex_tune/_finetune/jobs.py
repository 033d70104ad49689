"""``cx.finetune``: create, list, describe, cancel and wait for fine-tuning jobs."""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from cortex_tune._core import rules as _rules
from cortex_tune._core.errors import (
    AmbiguousCreateError,
    ConfigurationError,
    CortexError,
    PreflightError,
    QueryError,
    ResponseParseError,
    TransientError,
)
from cortex_tune._core.models import FineTuneJob, JobStatus, JobSummary
from cortex_tune._core.parsing import parse_job, parse_job_id, parse_jobs
from cortex_tune._core.progress import ProgressOption
from cortex_tune._core.statement import Statement
from cortex_tune._core.wait import PollSchedule, wait_for
from cortex_tune._finetune.duplicates import cancel_duplicate, cancel_duplicates
from cortex_tune._finetune.preflight import PreflightReport, run_check, runs_sql
from cortex_tune._finetune.preflight_sql import PREFLIGHT_OP
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune.sql import (
    finetune_cancel_sql,
    finetune_create_sql,
    finetune_describe_sql,
    finetune_show_sql,
    new_marker,
)

if TYPE_CHECKING:
    from cortex_tune._backends.base import Result
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: Jobs created this long before a lost CREATE are still considered when reconciling
#: (the server's clock and ours may differ).
_RECONCILE_WINDOW = dt.timedelta(hours=1)
#: At most this many recent jobs are described when looking for a request marker.
_RECONCILE_LIMIT = 50
#: How a refusal of bound arguments reads (Snowflake documents no text for it: these are the
#: forms its compiler uses for arguments that must be constants, and bind-variable refusals).
_BIND_REFUSAL = re.compile(
    r"needs to be (a )?constant|must be (a )?constant|bind variable|bindings? (is|are) not",
    re.I,
)


def refuses_bound_arguments(error: CortexError) -> bool:
    """Whether ``error`` is Snowflake refusing a statement because an argument was bound."""
    return isinstance(error, QueryError) and bool(_BIND_REFUSAL.search(error.message))


class FineTune:
    """Fine-tuning jobs: ``SNOWFLAKE.CORTEX.FINETUNE('CREATE' | 'SHOW' | 'DESCRIBE' | 'CANCEL')``."""

    def __init__(self, client: Cortex) -> None:
        self._client = client
        #: True once the account refused a bound FINETUNE argument: literals from then on.
        self._literals = False

    def create(
        self,
        name: str,
        *,
        base_model: str,
        training: str | TrainingData,
        validation: str | TrainingData | None = None,
        max_epochs: int | None = None,
        check: bool = True,
    ) -> FineTuneJob:
        """Start a fine-tuning job and return it (as DESCRIBE reports it).

        First runs :meth:`check` (a few aggregate statements, no Cortex credits) and refuses to
        create a job Cortex would refuse: a query that fails or lacks PROMPT/COMPLETION, no
        usable rows, too many rows, or a base model that cannot be fine-tuned. On a backend
        that runs no SQL (FakeBackend) the check is skipped, sending nothing.

        Then runs ``FINETUNE('CREATE', name, base_model, training [, validation [, options]])``.
        The training query carries a request marker comment; if the answer is lost after the
        statement may have run, cortex-tune looks for a job carrying the marker (SHOW +
        DESCRIBE) and returns it instead of creating a second, billed job. On a connector
        that may re-send CREATE by itself (5.x), a SHOW after success finds any second job
        carrying the marker, cancels it and logs a warning.

        Args:
            name: The fine-tuned model's name (``MY_MODEL`` or ``DB.SCHEMA.MY_MODEL``).
            base_model: One of the fine-tunable bases, e.g. ``"mistral-7b"``.
            training: A query yielding ``prompt`` and ``completion`` columns, or a
                :class:`TrainingData`.
            validation: The same for validation; None lets Cortex split the training data.
            max_epochs: 1 to 10; None lets Cortex choose.
            check: Check the data first (default); False creates the job unchecked.

        Raises:
            PreflightError: The check found errors; ``.report`` lists them. No job exists.

        Example:
            >>> job = cx.finetune.create("SUPPORT_MISTRAL", base_model="mistral-7b",
            ...     training="SELECT body AS prompt, reply AS completion FROM train")  # doctest: +SKIP
        """
        spec = _rules.base_model_spec(base_model)
        if spec is not None and spec.deprecated:
            warnings.warn(
                f"base model {base_model} is deprecated", DeprecationWarning, stacklevel=2
            )
        marker = new_marker()

        def build(literals: bool) -> Statement:
            return finetune_create_sql(
                name,
                base_model=base_model,
                training=training,
                validation=validation,
                max_epochs=max_epochs,
                marker=marker,
                literals=literals,
            )

        build(False)  # validate every argument before anything runs
        if check:  # after the arguments are known good, before anything is billed
            self._preflight(base_model, training, validation, max_epochs)
        client = self._client
        started = client._now()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._run(build, retry=False)
            except TransientError as exc:
                adopted = self._adopt(marker, started, exc)
                if adopted is not None:
                    return adopted
                if (
                    attempt >= client._retry.attempts
                    or client._now() - started >= client._retry.budget
                ):
                    raise
                delay = client._retry.delay(attempt)
                log.info(
                    "CREATE failed transiently (%s); no job carries its marker; retrying",
                    exc.message,
                )
                client._sleep(delay)
                continue
            try:
                job_id = parse_job_id(result.scalar())
            except ResponseParseError as exc:
                # CREATE ran, so its job exists even though the answer names none: find it.
                adopted = self._adopt(marker, started, exc)
                if adopted is not None:
                    return adopted
                raise AmbiguousCreateError(
                    f"CREATE answered no readable job id ({exc.message}) and no job carries "
                    f"its request marker {marker}",
                    marker=marker,
                    op="finetune.create",
                    query_id=result.query_id,
                ) from exc
            log.info("created fine-tuning job %s", job_id)
            job = self.describe(job_id)
            if self._may_resend():
                cancel_duplicates(self, marker, job, within=client._now() - started)
            return job

    def check(
        self,
        base_model: str,
        *,
        training: str | TrainingData,
        validation: str | TrainingData | None = None,
        max_epochs: int | None = None,
        server_tokens: bool = False,
        credits_per_million: Mapping[str, float] | None = None,
    ) -> PreflightReport:
        """Check a job's data and estimate its cost before creating it; no Cortex credits spent.

        Runs ``SELECT * FROM (<query>) LIMIT 0`` per query (does it compile, which columns),
        then one aggregate statement over every query, however many rows: row counts, NULL
        and empty prompts/completions, duplicate pairs, prompts in both training and
        validation, tokens per row against the base model's allotments, and the row limit for
        the epochs. Errors are exactly what Cortex refuses; warnings and notes do not block
        :meth:`create`. The statements carry the op ``"preflight"`` and cost warehouse time
        only (the aggregate reads the data once).

        Args:
            base_model: The base model to fine-tune, e.g. ``"mistral-7b"``.
            training: A query yielding ``prompt`` and ``completion``, or a :class:`TrainingData`.
            validation: The same for validation; None lets Cortex split the training data.
            max_epochs: 1 to 10; None gives trained tokens and credits as a 1-10 epoch range.
            server_tokens: Count tokens with Cortex (``AI_COUNT_TOKENS`` or ``COUNT_TOKENS``,
                once per distinct pair) instead of estimating four characters a token. That is
                billed compute (no token charge), so it is off by default.
            credits_per_million: Credits per million trained tokens by base model, to
                estimate credits. cortex-tune ships no rates: Snowflake publishes them in its
                Service Consumption Table.

        Raises:
            ConfigurationError: Bad arguments, or a backend that runs no SQL (FakeBackend).
            NoWarehouseError: The session has no warehouse to run the check on.

        Example:
            >>> report = cx.finetune.check("mistral-7b", max_epochs=3,
            ...     training="SELECT body AS prompt, reply AS completion FROM train")  # doctest: +SKIP
            >>> report.ok, report.cost.trained_tokens  # doctest: +SKIP
            (True, (1245, 1245))
        """
        return run_check(
            self._client,
            base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            server_tokens=server_tokens,
            credits_per_million=credits_per_million,
        )

    def _preflight(
        self,
        base_model: str,
        training: str | TrainingData,
        validation: str | TrainingData | None,
        max_epochs: int | None,
    ) -> None:
        """create()'s check: raise PreflightError on errors; skip where no SQL runs."""
        if not runs_sql(self._client.backend):
            log.debug("preflight check skipped: %r runs no SQL", self._client.backend)
            return
        try:
            report = self.check(
                base_model, training=training, validation=validation, max_epochs=max_epochs
            )
        except ConfigurationError as exc:
            if exc.op != PREFLIGHT_OP:
                raise
            # A backend refusing the check's statements runs no SQL: create unchecked.
            log.debug("preflight check skipped: %s", exc.message)
            return
        if not report.ok:
            summary = "; ".join(f"{f.code}: {f.message}" for f in report.errors)
            raise PreflightError(
                f"the check found {len(report.errors)} error(s), so no job was created: {summary}",
                report=report,
                op=PREFLIGHT_OP,
            )

    def _run(self, build: Callable[[bool], Statement], *, retry: bool = True) -> Result:
        """Run a FINETUNE statement with bound arguments, or with literals on an account that
        refuses binds there (Snowflake documents FINETUNE with literals only).

        A refusal is a compilation error, so the refused statement did not run and sending
        it again with literals runs it once. Once refused, this client sends literals only.
        """
        if not self._literals:
            try:
                return self._client._execute(build(False), retry=retry)
            except QueryError as exc:
                if not refuses_bound_arguments(exc):
                    raise
                log.warning(
                    "FINETUNE refused a bound argument (%s); cortex-tune sends FINETUNE "
                    "arguments as quoted literals from now on",
                    exc.message,
                )
                self._literals = True
        return self._client._execute(build(True), retry=retry)

    def _may_resend(self) -> bool:
        """Whether the connection may have sent CREATE more than once by itself."""
        may_resend = getattr(self._client.backend, "may_resend", None)
        return bool(may_resend("finetune.create")) if callable(may_resend) else False

    def _adopt(self, marker: str, started: float, cause: CortexError) -> FineTuneJob | None:
        """After an ambiguous CREATE failure: the job carrying ``marker``, or None if none does."""
        try:
            found = self.find_by_marker(marker, since=started)
        except CortexError as exc:
            raise AmbiguousCreateError(
                f"CREATE failed ({cause.message}) and looking for its job failed too "
                f"({exc.message}); request marker {marker}",
                marker=marker,
                op="finetune.create",
            ) from exc
        if found:
            log.info("CREATE answer was lost; adopted job %s by its request marker", found[0].id)
            for job in found[1:]:
                cancel_duplicate(self, job, found[0], marker)
            return found[0]
        return None

    def find_by_marker(self, marker: str, *, since: float | None = None) -> list[FineTuneJob]:
        """Jobs whose training query carries request marker ``marker``, oldest first.

        Runs SHOW, then DESCRIBE on recent jobs (newest first, at most 50).

        Args:
            marker: The marker id (from :class:`AmbiguousCreateError.marker`).
            since: Epoch seconds; only jobs created after this (minus an hour of clock slack)
                are described.
        """
        jobs = self.list()
        if since is not None:
            cutoff = dt.datetime.fromtimestamp(since, tz=dt.timezone.utc) - _RECONCILE_WINDOW
            jobs = [j for j in jobs if j.created_on is None or j.created_on >= cutoff]
        return self._carrying(marker, jobs)

    def _carrying(self, marker: str, jobs: list[JobSummary]) -> list[FineTuneJob]:
        """Those of ``jobs`` (the newest 50) whose training query carries ``marker``, oldest
        first: one DESCRIBE each."""
        jobs = sorted(
            jobs,
            key=lambda j: j.created_on or dt.datetime.max.replace(tzinfo=dt.timezone.utc),
            reverse=True,
        )
        found = []
        for summary in jobs[:_RECONCILE_LIMIT]:
            job = self.describe(summary.id)
            if job.training_data and marker in job.training_data:
                found.append(job)
        return sorted(
            found, key=lambda j: j.created_on or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        )

    def describe(self, job_id: str) -> FineTuneJob:
        """The full state of one job: ``FINETUNE('DESCRIBE', job_id)``.

        Raises:
            JobNotFoundError: No job has that id.
        """
        result = self._run(lambda literals: finetune_describe_sql(job_id, literals=literals))
        return parse_job(result.scalar())

    def list(self) -> list[JobSummary]:
        """Every fine-tuning job in the account: ``FINETUNE('SHOW')``.

        Snowflake garbage-collects old jobs, so the list is not a permanent record.
        """
        return parse_jobs(self._client._execute(finetune_show_sql()).scalar())

    def cancel(self, job_id: str) -> FineTuneJob:
        """Cancel a job (``FINETUNE('CANCEL', job_id)``) and return its state after that.

        A job that had already ended keeps its final state; cancelling an already cancelled
        job is not an error.

        Raises:
            JobNotFoundError: No job has that id (reported with ``op="finetune.cancel"``).
        """
        try:
            self._run(lambda literals: finetune_cancel_sql(job_id, literals=literals))
        except QueryError as exc:
            try:
                job = self.describe(job_id)
            except CortexError:
                # The user asked to cancel: report CANCEL's own failure, not the lookup's.
                raise exc from exc.__cause__
            # Snowflake does not document CANCEL of a job that already ended: when it refuses,
            # the job keeps its final state, which is the answer.
            if job.status in (JobStatus.CANCELLED, JobStatus.SUCCESS, JobStatus.ERROR):
                return job
            raise
        return self.describe(job_id)

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        raise_on_error: bool = False,
        progress: ProgressOption = None,
    ) -> FineTuneJob:
        """Wait until the job ends and return it (SUCCESS, ERROR or CANCELLED).

        Polls DESCRIBE on an adaptive schedule: the end is noticed within
        ``max(5 s, 5 % of the time waited)`` and a one-hour job costs about a dozen
        statements. Ctrl-C stops waiting; it never cancels the job.

        Args:
            job_id: The job to wait for.
            timeout: Seconds to wait at most; then :class:`WaitTimeoutError` (the job goes on).
            poll: A fixed polling interval in seconds instead of the adaptive schedule.
            raise_on_error: Raise :class:`JobFailedError` / :class:`JobCancelledError` instead
                of returning a failed or cancelled job.
            progress: None shows a bar when interactive; True always; False never; a callable
                receives every state seen.
        """
        return wait_for(
            lambda: self.describe(job_id),
            clock=self._client._now,
            sleep=self._client._sleep,
            timeout=timeout,
            schedule=PollSchedule(fixed=poll, min_interval=self._client._poll_min),
            raise_on_error=raise_on_error,
            progress=progress,
        )
