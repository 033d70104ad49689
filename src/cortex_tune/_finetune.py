"""``cx.finetune``: create, list, describe, cancel and wait for fine-tuning jobs."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from typing import TYPE_CHECKING

from cortex_tune import _rules
from cortex_tune._errors import (
    AmbiguousCreateError,
    CortexError,
    QueryError,
    TransientError,
)
from cortex_tune._models import FineTuneJob, JobStatus, JobSummary
from cortex_tune._parsing import parse_job, parse_job_id, parse_jobs
from cortex_tune._progress import ProgressOption
from cortex_tune._training_data import TrainingData
from cortex_tune._wait import PollSchedule, wait_for
from cortex_tune.sql import (
    finetune_cancel_sql,
    finetune_create_sql,
    finetune_describe_sql,
    finetune_show_sql,
    new_marker,
)

if TYPE_CHECKING:
    from cortex_tune._client import Cortex

log = logging.getLogger("cortex_tune")

#: Jobs created this long before a lost CREATE are still considered when reconciling
#: (the server's clock and ours may differ).
_RECONCILE_WINDOW = dt.timedelta(hours=1)
#: At most this many recent jobs are described when looking for a request marker.
_RECONCILE_LIMIT = 50


class FineTune:
    """Fine-tuning jobs: ``SNOWFLAKE.CORTEX.FINETUNE('CREATE' | 'SHOW' | 'DESCRIBE' | 'CANCEL')``."""

    def __init__(self, client: Cortex) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        base_model: str,
        training: str | TrainingData,
        validation: str | TrainingData | None = None,
        max_epochs: int | None = None,
    ) -> FineTuneJob:
        """Start a fine-tuning job and return it (as DESCRIBE reports it).

        Runs ``FINETUNE('CREATE', name, base_model, training [, validation [, options]])``.
        The training query carries a request marker comment; if the answer is lost after the
        statement may have run, cortex-tune looks for a job carrying the marker (SHOW +
        DESCRIBE) and returns it instead of creating a second, billed job.

        Args:
            name: The fine-tuned model's name (``MY_MODEL`` or ``DB.SCHEMA.MY_MODEL``).
            base_model: One of the fine-tunable bases, e.g. ``"mistral-7b"``.
            training: A query yielding ``prompt`` and ``completion`` columns, or a
                :class:`TrainingData`.
            validation: The same for validation; None lets Cortex split the training data.
            max_epochs: 1 to 10; None lets Cortex choose.

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
        statement = finetune_create_sql(
            name,
            base_model=base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            marker=marker,
        )
        client = self._client
        started = client._now()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = client._execute(statement, retry=False)
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
            job_id = parse_job_id(result.scalar())
            log.info("created fine-tuning job %s", job_id)
            return self.describe(job_id)

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
        jobs.sort(
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
        result = self._client._execute(finetune_describe_sql(job_id))
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
        """
        try:
            self._client._execute(finetune_cancel_sql(job_id))
        except QueryError:
            job = self.describe(job_id)
            if job.status is JobStatus.CANCELLED:
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
