"""The client's long calls as runs: complete_table, evaluate and compare.

Each call records its statements in the runs table before sending them, sends them
asynchronously where the backend can, attaches to the live run of the same work instead of
starting it again, and (unless ``wait=False``) waits for the run on the polling schedule of
``finetune.wait``. A failed statement raises the error it failed with, typed as if it had been
run synchronously.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cortex_tune._client.reconcile import ProgrammingError, result_scan_sql
from cortex_tune._core.errors import (
    CortexError,
    RunCancelledError,
    RunConflictError,
    RunFailedError,
    translate,
)
from cortex_tune._core.progress import ProgressOption
from cortex_tune._core.statement import Generation
from cortex_tune._core.wait import PollSchedule
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune._inference.evaluate import (
    Comparison,
    EvalReport,
    Metric,
    evaluate_sql,
    report_from_rows,
)
from cortex_tune._inference.sql_batch import Template, create_results_table_sql, delete_failed_sql
from cortex_tune._runs.models import PartStatus, Run, RunStatus
from cortex_tune._runs.plan import TableWork, new_run_id, work_id
from cortex_tune._runs.send import Sender
from cortex_tune._runs.store import Claim
from cortex_tune._runs.table import CLAIM_ATTEMPTS, Limits, TableRun
from cortex_tune._runs.track import Tracker
from cortex_tune._runs.watch import Watch, wait_run
from cortex_tune.sql import new_marker, training_query

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._inference.batch import TableRunSummary


def complete_table(
    cx: Cortex,
    model: str,
    *,
    source: str,
    into: str,
    key: str,
    prompt: str | Template,
    options: dict[str, Any],
    limits: Limits,
    retry_failed: bool,
    wait: bool,
    progress: ProgressOption,
) -> TableRunSummary | Run:
    """See :meth:`Cortex.complete_table`."""
    from cortex_tune._inference.batch import TableRunSummary

    limits.check(wait)
    generation: Generation = "legacy" if cx._functions == "legacy" else "ai"
    store = cx.runs.store
    store.ensure()
    work = TableWork(model, source, into, key, prompt, dict(options), generation)
    if not store.parts(work=work.id, live=True)[0]:
        # Only while none of the work's statements runs: no DDL or DELETE on a table that
        # statements are inserting into (its failed rows are answered again once they end).
        cx._execute(create_results_table_sql(into, source=source, key=key))
        if retry_failed:
            cx._execute(delete_failed_sql(into))
    tracker = cx.runs.tracker()
    call = TableRun(cx, store, tracker, work, limits)
    call.begin()
    assert call.watch is not None
    if not call.watch.parts and not call.store.parts(run_id=call.run_id)[0]:
        # every key is answered: no statement was sent, and no run recorded
        if not wait:
            return Run(
                id=call.run_id, kind="complete_table", target=into, status="SUCCEEDED", rows_todo=0
            )
        return TableRunSummary(into, **{**call.summary(), "run_id": None})
    if not wait:
        return call.watch.refresh()
    run = _wait(cx, call.tick, progress)
    _raise_failure(run, tracker, "complete_table")
    return TableRunSummary(into, **call.summary())


def evaluate(
    cx: Cortex,
    model: str,
    data: str | TrainingData,
    *,
    metric: Metric,
    wait: bool,
    progress: ProgressOption = False,
) -> EvalReport | Run:
    """See :meth:`Cortex.evaluate`."""
    run_id, sender, tracker = _start_evaluation(cx, model, data, metric)
    watch = Watch(cx, cx.runs.store, tracker, run_id)
    if not wait:
        return watch.refresh()
    run = _wait(cx, watch.tick, progress)
    return report(cx, run, sender)


def compare(
    cx: Cortex, models: Sequence[str], data: str | TrainingData, *, metric: Metric, wait: bool
) -> Comparison | list[Run]:
    """See :meth:`Cortex.compare`: every model's evaluation sent at once, then awaited."""
    started = [(m, *_start_evaluation(cx, m, data, metric)) for m in models]
    watches = [Watch(cx, cx.runs.store, t, run_id) for _, run_id, _, t in started]
    if not wait:
        return [w.refresh() for w in watches]
    reports = []
    for watch, (_, _, sender, _) in zip(watches, started, strict=True):
        reports.append(report(cx, _wait(cx, watch.tick, False), sender))
    return Comparison(reports)


def report(cx: Cortex, run: Run, sender: Sender | None = None) -> EvalReport:
    """The report of an ended evaluate run: its rows read by query id (RESULT_SCAN, for 24
    hours, by the user who ran it), or as they came back when the backend ran it directly."""
    _raise_failure(run, None, "evaluate")
    part = next(p for p in reversed(run.parts) if p.status is PartStatus.SUCCEEDED)
    kept = None if sender is None else sender.results.get(part.marker)
    rows = kept.rows if kept is not None else cx._execute(result_scan_sql(str(part.query_id))).rows
    params = run.parameters
    return report_from_rows(str(params.get("model", run.target)), params["metric"], rows)


def _start_evaluation(
    cx: Cortex, model: str, data: str | TrainingData, metric: Metric
) -> tuple[str, Sender, Tracker]:
    generation: Generation = "legacy" if cx._functions == "legacy" else "ai"
    statement = evaluate_sql(model, data, metric=metric, functions=generation)
    store = cx.runs.store
    store.ensure()
    tracker = cx.runs.tracker()
    sender = Sender(cx, store, tracker)
    parameters = {
        "model": model,
        "data": training_query(data),
        "metric": metric,
        "functions": generation,
    }
    work = work_id("evaluate", model, parameters)
    for attempt in range(CLAIM_ATTEMPTS):
        parts, now = store.parts(work=work)
        live = [p for p in tracker.settle(parts, now) if p.live]
        if live:
            return live[0].run_id, sender, tracker  # the same evaluation runs: wait for it
        claim = Claim(
            run_id=new_run_id(),
            part=0,
            kind="evaluate",
            target=model,
            work=work,
            parameters=parameters,
            plan={},
            lane=None,
            marker=new_marker(),
            rows_todo=None,
        )
        if sender.send(work, [claim], set(), lambda _claim: statement):
            return claim.run_id, sender, tracker
        cx._sleep(random.uniform(0.5, 1.5) * (attempt + 1))
    raise RunConflictError(f"another client kept starting the same evaluation of {model}")


def _wait(cx: Cortex, tick: Any, progress: ProgressOption) -> Run:
    return wait_run(
        tick,
        clock=cx._now,
        sleep=cx._sleep,
        timeout=None,
        schedule=PollSchedule(min_interval=cx._poll_min),
        raise_on_error=False,
        progress=progress,
    )


def _raise_failure(run: Run, tracker: Tracker | None, op: str) -> None:
    """Raise why the run did not succeed: its failed statement's own error, typed as if it
    had run synchronously; or RunCancelledError / RunFailedError."""
    if run.status is RunStatus.CANCELLED:
        raise RunCancelledError(f"run {run.id} was cancelled", job=run)
    if run.status is RunStatus.SUCCEEDED:
        return
    failed = [p for p in run.parts if p.status is PartStatus.FAILED]
    if failed:
        part = failed[-1]
        seen = None if tracker is None else tracker.failures.get(part.marker)
        code = _int(seen.error_code) if seen is not None else None
        cause = ProgrammingError(part.error or "the statement failed", code, part.query_id or "")
        error: CortexError = translate(cause, op=op)
        error.query_id = part.query_id
        raise error
    raise RunFailedError(f"run {run.id} did not complete: {run.error or run.status.value}", job=run)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
