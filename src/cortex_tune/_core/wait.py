"""Waiting for a fine-tuning job: an adaptive polling schedule and the loop around it.

The schedule keeps two promises: it notices the end of a job within ``max(POLL_MIN, 5 % of the
time waited so far)``, and a long job costs few DESCRIBE statements. It does that by reading
the job's progress: once progress has moved enough to estimate a rate, it sleeps half of the
estimated remaining time (never less than the detection bound), so the polls close in on the
predicted end geometrically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cortex_tune._core.constants import POLL_FRACTION, POLL_MAX, POLL_MIN
from cortex_tune._core.errors import (
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobVanishedError,
    WaitTimeoutError,
)
from cortex_tune._core.models import FineTuneJob, JobStatus
from cortex_tune._core.progress import ProgressOption, reporter

log = logging.getLogger("cortex_tune")

#: Progress must move this much before a rate is trusted (DESCRIBE rounds progress).
_MIN_PROGRESS_SPAN = 0.005


@dataclass
class PollSchedule:
    """Decides how long to sleep before the next DESCRIBE.

    Args:
        fixed: A constant interval in seconds; None adapts to the job.
        min_interval: The shortest pause.
        fraction: A pause never exceeds this fraction of the time waited (unless below
            ``min_interval``) while no estimate of the end exists.
        max_interval: The longest pause.
    """

    fixed: float | None = None
    min_interval: float = POLL_MIN
    fraction: float = POLL_FRACTION
    max_interval: float = POLL_MAX
    _anchor: tuple[float, float] | None = None

    def bound(self, elapsed: float) -> float:
        """The detection bound at ``elapsed`` seconds of waiting."""
        return max(self.min_interval, self.fraction * elapsed)

    def next_delay(self, job: FineTuneJob, elapsed: float) -> float:
        """Seconds to sleep after seeing ``job`` at ``elapsed`` seconds of waiting."""
        if self.fixed is not None:
            return self.fixed
        bound = self.bound(elapsed)
        eta = self._eta(job, elapsed)
        if eta is None:
            delay = bound
        elif eta <= bound:
            # Land just after the predicted end.
            delay = min(bound, eta + 0.2 * self.min_interval)
        else:
            delay = max(bound, eta / 2)
        return min(delay, self.max_interval)

    def _eta(self, job: FineTuneJob, elapsed: float) -> float | None:
        # A run (cortex_tune._runs) says so itself; a job is in progress in IN_PROGRESS.
        running = getattr(job, "in_progress", None)
        if running is None:
            running = job.status is JobStatus.IN_PROGRESS
        if not running or not 0 < job.progress < 1:
            return None
        if self._anchor is None or job.progress < self._anchor[1]:
            self._anchor = (elapsed, job.progress)
            return None
        t0, p0 = self._anchor
        if job.progress - p0 < _MIN_PROGRESS_SPAN or elapsed <= t0:
            return None
        rate = (job.progress - p0) / (elapsed - t0)
        return (1.0 - job.progress) / rate


def wait_for(
    describe: Callable[[], FineTuneJob],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    timeout: float | None,
    schedule: PollSchedule,
    raise_on_error: bool,
    progress: ProgressOption,
) -> FineTuneJob:
    """Poll ``describe`` until the job is terminal; see :meth:`FineTune.wait`."""
    start = clock()
    report = reporter(progress)
    seen: FineTuneJob | None = None
    try:
        while True:
            try:
                job = describe()
            except JobNotFoundError as exc:
                if seen is None:
                    raise
                raise JobVanishedError(
                    f"fine-tuning job {seen.id} disappeared while waiting "
                    f"(last seen {seen.status.value}); Snowflake garbage-collects old jobs",
                    op=exc.op,
                    query_id=exc.query_id,
                ) from exc
            if seen is None or job.status is not seen.status:
                log.info("job %s is %s", job.id, job.status_raw or job.status.value)
            seen = job
            report.update(job)
            if job.is_terminal:
                return _finish(job, raise_on_error)
            timed_out = f"job {job.id} still {job.status.value} after {timeout or 0:g} s"
            sleep(next_pause(schedule, job, clock() - start, timeout, timed_out))
    finally:
        report.close()


def next_pause(
    schedule: PollSchedule,
    state: Any,
    elapsed: float,
    timeout: float | None,
    timed_out: str,
) -> float:
    """Seconds until the next look at ``state`` after ``elapsed`` seconds of waiting: the
    schedule's pause, cut to what is left of ``timeout``; past it, :class:`WaitTimeoutError`
    (with ``timed_out`` as its message). ``state`` is a job, or a run (which polls like one)."""
    delay = schedule.next_delay(state, elapsed)
    if timeout is None:
        return delay
    remaining = timeout - elapsed
    if remaining <= 0:
        raise WaitTimeoutError(timed_out, job=state)
    return min(delay, remaining)


def _finish(job: FineTuneJob, raise_on_error: bool) -> FineTuneJob:
    if raise_on_error and job.status is JobStatus.ERROR:
        reason = job.error.message if job.error else "no reason given"
        raise JobFailedError(f"job {job.id} failed: {reason}", job=job)
    if raise_on_error and job.status is JobStatus.CANCELLED:
        raise JobCancelledError(f"job {job.id} was cancelled", job=job)
    return job
