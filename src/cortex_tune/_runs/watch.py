"""Following a run: its state from its parts, its progress, and the waiting loop.

A poll asks Snowflake about the run's live statements (``get_query_status``: no warehouse
statement); only when one of them ended is the runs table read again, the ended ones settled
from the query history and the results table counted. Between such reads the run's progress is
estimated from the pace of the statements that ended, so that the polling schedule of
``finetune.wait`` (which closes in on the predicted end) works for runs too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from cortex_tune._core.errors import (
    CortexError,
    ObjectNotFoundError,
    RunCancelledError,
    RunFailedError,
    RunNotFoundError,
)
from cortex_tune._core.progress import ProgressOption, reporter
from cortex_tune._core.wait import PollSchedule, next_pause
from cortex_tune._inference.sql_batch import table_summary_sql
from cortex_tune._runs.models import PartStatus, Run, RunPart, RunStatus
from cortex_tune._runs.plan import Plan
from cortex_tune._runs.store import RunStore
from cortex_tune._runs.track import Tracker

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")


def status_of(parts: list[RunPart]) -> tuple[RunStatus, str | None]:
    """A run's status (and error) from its parts: RUNNING while any may run; else the last
    part of each lane decides: FAILED if one failed or was lost, CANCELLED if one was
    cancelled, else SUCCEEDED. Parts never sent (ABANDONED) do not count."""
    sent = [p for p in parts if p.status is not PartStatus.ABANDONED]
    if any(p.live for p in parts):
        return RunStatus.RUNNING, None
    if not sent:
        return (RunStatus.CANCELLED, None) if parts else (RunStatus.UNKNOWN, None)
    last: dict[int | None, RunPart] = {}
    for part in sent:
        last[part.lane] = part
    for state, status in (
        (PartStatus.FAILED, RunStatus.FAILED),
        (PartStatus.LOST, RunStatus.FAILED),
        (PartStatus.CANCELLED, RunStatus.CANCELLED),
    ):
        hit = [p for p in last.values() if p.status is state]
        if hit:
            error = hit[0].error
            if state is PartStatus.LOST:
                error = (
                    f"statement {hit[0].query_id or hit[0].marker} is no longer known to "
                    "Snowflake (its session or process ended with it)"
                )
            return status, error
    if all(p.status is PartStatus.SUCCEEDED for p in last.values()):
        return RunStatus.SUCCEEDED, None
    return RunStatus.UNKNOWN, None


def estimate(
    rows_todo: int, rows_done: int, parts: list[RunPart], plan: Plan, now: dt.datetime
) -> float:
    """The fraction of ``rows_todo`` done: rows answered, plus, for statements still running,
    the rows the pace of the statements that ended predicts (a statement's rows appear only
    when it commits)."""
    live = [p for p in parts if p.live]
    if rows_todo <= 0:
        return 0.0 if live else 1.0
    done = float(rows_done)
    timed = [p for p in parts if p.status is PartStatus.SUCCEEDED and p.rows_done and p.seconds]
    if timed and live:
        rate = sum(p.rows_done or 0 for p in timed) / sum(p.seconds or 0.0 for p in timed)
        for part in live:
            expected = part.rows_todo or plan.expected.get(part.lane or 0, 0)
            started = part.created_on or now
            running = max(0.0, (now - started).total_seconds())
            done += min(0.99 * expected, rate * running)
    return max(0.0, min(0.999 if live else 1.0, done / rows_todo))


class Watch:
    """Follows one run of the runs table.

    Args:
        cx: The client.
        store: The runs table.
        tracker: Settles live parts against Snowflake.
        run_id: The run.
    """

    def __init__(self, cx: Cortex, store: RunStore, tracker: Tracker, run_id: str) -> None:
        self.cx, self.store, self.tracker, self.run_id = cx, store, tracker, run_id
        self.parts: list[RunPart] = []
        self.run: Run | None = None
        self.polls = 0
        #: Times the runs table was read.
        self.reads = 0
        #: Rows, failed rows and tokens in the results table when it was last counted.
        self.totals: tuple[int, int, int] | None = None
        self._now = dt.datetime.now(dt.timezone.utc)
        self._read_at = 0.0

    def refresh(self) -> Run:
        """Read the run again: settle its live parts, count its results table."""
        try:
            parts, now = self.store.parts(run_id=self.run_id)
        except ObjectNotFoundError as exc:
            raise RunNotFoundError(
                f"no run {self.run_id}: the runs table {self.store.table} does not exist",
                query_id=exc.query_id,
            ) from exc
        if not parts:
            raise RunNotFoundError(f"no run {self.run_id} in the runs table {self.store.table}")
        self.reads += 1
        self.parts = self.tracker.settle(parts, now)
        self._now, self._read_at = now, self.cx._now()
        self.run = self.assemble()
        return self.run

    def tick(self) -> Run:
        """One poll: status requests; the table again only when something may have changed."""
        self.polls += 1
        if self.run is None or self.tracker.changed(self.parts):
            return self.refresh()
        now = self._now + dt.timedelta(seconds=self.cx._now() - self._read_at)
        run = self.run
        plan = Plan.from_dict(self.parts[0].plan)
        progress = estimate(run.rows_todo or 0, run.rows_done, self.parts, plan, now)
        return run.model_copy(update={"progress": progress})

    def assemble(self, *, count: bool = True) -> Run:
        """The run from its parts as read (``count``: and its results table counted)."""
        parts, first = self.parts, self.parts[0]
        status, error = status_of(parts)
        plan = Plan.from_dict(first.plan)
        if count:
            done, failed, tokens = self._totals(first, plan)
        else:
            done, failed, tokens = sum(p.rows_done or 0 for p in parts), 0, 0
        rows_todo = plan.rows_todo if first.kind == "complete_table" else first.rows_todo
        return Run(
            id=self.run_id,
            kind=first.kind,
            target=first.target,
            status=status,
            status_raw=status.value,
            rows_todo=rows_todo,
            rows_done=done,
            rows_failed=failed,
            tokens=tokens,
            progress=estimate(rows_todo or 0, done, parts, plan, self._now),
            error=error,
            created_on=min((p.created_on for p in parts if p.created_on), default=None),
            updated_on=max((p.updated_on for p in parts if p.updated_on), default=None),
            parameters=first.parameters,
            parts=parts,
        )

    def _totals(self, first: RunPart, plan: Plan) -> tuple[int, int, int]:
        """Rows, failed rows and tokens the run added to its results table."""
        if first.kind != "complete_table":
            return sum(p.rows_done or 0 for p in self.parts), 0, 0
        try:
            rows, failed, tokens = self.cx._execute(table_summary_sql(first.target)).rows[0]
        except CortexError as exc:
            log.info("run %s: its results table cannot be counted: %s", self.run_id, exc)
            self.totals = None
            return 0, 0, 0
        self.totals = (int(rows), int(failed), int(tokens or 0))
        base = plan.base
        return (
            max(0, int(rows) - base[0]),
            max(0, int(failed) - base[1]),
            max(0, int(tokens or 0) - base[2]),
        )


def wait_run(
    tick: Callable[[], Run],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    timeout: float | None,
    schedule: PollSchedule,
    raise_on_error: bool,
    progress: ProgressOption,
) -> Run:
    """Poll ``tick`` until the run ends; see :meth:`Runs.wait`. Ctrl-C stops the waiting only:
    the statements run on in Snowflake."""
    start = clock()
    report = reporter(progress)
    seen: RunStatus | None = None
    try:
        while True:
            run = tick()
            if run.status is not seen:
                log.info("run %s is %s", run.id, run.status_raw or run.status.value)
                seen = run.status
            report.update(run)  # type: ignore[arg-type]  # a run reports like a job
            if run.is_terminal:
                return _finish(run, raise_on_error)
            timed_out = (
                f"run {run.id} still {run.status.value} after {timeout or 0:g} s "
                f"({run.rows_done:,} of {run.rows_todo or 0:,} rows)"
            )
            sleep(next_pause(schedule, run, clock() - start, timeout, timed_out))
    finally:
        report.close()


def _finish(run: Run, raise_on_error: bool) -> Run:
    if raise_on_error and run.status is RunStatus.FAILED:
        raise RunFailedError(f"run {run.id} failed: {run.error or 'no reason given'}", job=run)
    if raise_on_error and run.status is RunStatus.CANCELLED:
        raise RunCancelledError(f"run {run.id} was cancelled", job=run)
    return run
