"""``cx.runs``: list, describe, wait for and cancel runs, from any process of the same user."""

from __future__ import annotations

import builtins
import logging
from typing import TYPE_CHECKING

from cortex_tune._core.constants import CLAIM_GRACE, NO_DATA_GRACE, RUNS_TABLE
from cortex_tune._core.errors import (
    ConfigurationError,
    ObjectNotFoundError,
    PermissionDeniedError,
    QueryError,
)
from cortex_tune._core.identifiers import validate_name
from cortex_tune._core.progress import ProgressOption
from cortex_tune._core.wait import PollSchedule
from cortex_tune._inference.evaluate import EvalReport
from cortex_tune._runs.models import PartStatus, Run, RunPart
from cortex_tune._runs.sql import cancel_query_sql
from cortex_tune._runs.store import RunStore
from cortex_tune._runs.track import Tracker
from cortex_tune._runs.watch import Watch, wait_run

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: Seconds cancel() waits for cancelled statements to end before returning the run.
CANCEL_WAIT = 60.0


class Runs:
    """Long warehouse work that outlives the client: ``complete_table``, ``evaluate`` and
    ``compare`` record their statements in a runs table, where any process finds them.

    Each statement is submitted asynchronously (``execute_async``) and recorded, with its
    query id, in the runs table (``CORTEX_TUNE_RUNS`` in the current schema by default; see
    ``Cortex(runs_table=...)``). Calling the same work again while its statements still run
    attaches to them instead of starting them again.

    Example:
        >>> run = cx.complete_table("llama3.1-8b", source="EMAILS", into="REPLIES",
        ...                         key="ID", prompt="BODY", wait=False)  # doctest: +SKIP
        >>> cx.runs.wait(run.id).status  # doctest: +SKIP
        <RunStatus.SUCCEEDED: 'SUCCEEDED'>
    """

    def __init__(self, client: Cortex, table: str | None = RUNS_TABLE) -> None:
        if table is not None:
            validate_name(table, what="runs table name")
        self._client = client
        self.table = table
        """The runs table (None: runs are not recorded)."""
        self._store: RunStore | None = None if table is None else RunStore(client, table)
        self.claim_grace = CLAIM_GRACE
        """Seconds a statement may stay claimed in the runs table without a query id before
        another client looks for it in its session's query history (its client may have died
        between sending it and recording it) and, not finding it, takes it as never sent."""
        self.no_data_grace = NO_DATA_GRACE
        """Seconds a recorded query id may stay unknown to Snowflake before its session's query
        history is searched for how it ended."""

    @property
    def store(self) -> RunStore:
        """The runs table's store (raises when runs are not recorded)."""
        if self._store is None:
            raise ConfigurationError(
                "runs are not recorded: this client was built with runs_table=None"
            )
        return self._store

    def tracker(self) -> Tracker:
        """A tracker of live statements with this client's grace periods."""
        return Tracker(
            self._client,
            self.store,
            claim_grace=self.claim_grace,
            no_data_grace=self.no_data_grace,
        )

    def list(self, *, limit: int = 20) -> builtins.list[Run]:
        """The most recent runs, newest first, their live statements brought up to date.

        Reads the runs table (and asks Snowflake about statements still running); rows and
        tokens are the statements' own counts (:meth:`describe` counts the results table).
        An account without a runs table has no runs.
        """
        try:
            parts, now = self.store.recent(limit)
        except ObjectNotFoundError:
            return []
        parts = self.tracker().settle(parts, now)
        runs: dict[str, builtins.list[RunPart]] = {}
        for part in parts:
            runs.setdefault(part.run_id, []).append(part)
        found = [self._summary(run_id, group) for run_id, group in runs.items()]
        return sorted(found, key=lambda r: r.created_on or now, reverse=True)

    def describe(self, run_id: str) -> Run:
        """One run in full: its statements, rows done of rows to do, tokens so far.

        Raises:
            RunNotFoundError: No run has that id in the runs table.
        """
        return Watch(self._client, self.store, self.tracker(), run_id).refresh()

    def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        raise_on_error: bool = False,
        progress: ProgressOption = None,
    ) -> Run:
        """Wait until the run ends and return it (SUCCEEDED, FAILED or CANCELLED).

        Polls with ``get_query_status`` (no warehouse statement) on the adaptive schedule of
        ``finetune.wait``: the end is noticed within ``max(5 s, 5 % of the time waited)``, and
        once a statement has ended its pace predicts the others', so a long run costs few
        polls. Ctrl-C stops waiting; the statements go on in Snowflake.

        Args:
            run_id: The run.
            timeout: Seconds to wait at most; then :class:`WaitTimeoutError` (the run goes on).
            poll: A fixed polling interval in seconds instead of the adaptive schedule.
            raise_on_error: Raise :class:`RunFailedError` / :class:`RunCancelledError` instead
                of returning a failed or cancelled run.
            progress: None shows a bar when interactive (rows done of rows to do, tokens);
                True always; False never; a callable receives every state seen.
        """
        watch = Watch(self._client, self.store, self.tracker(), run_id)
        return wait_run(
            watch.tick,
            clock=self._client._now,
            sleep=self._client._sleep,
            timeout=timeout,
            schedule=PollSchedule(fixed=poll, min_interval=self._client._poll_min),
            raise_on_error=raise_on_error,
            progress=progress,
        )

    def report(self, run_id: str) -> EvalReport:
        """The :class:`EvalReport` of an ended ``evaluate`` run (``evaluate(..., wait=False)``),
        read by its query id (``RESULT_SCAN``: for 24 hours, by the user who ran it).

        Raises:
            RunNotFoundError: No run has that id.
            ConfigurationError: The run is not an evaluation, or has not ended.
        """
        from cortex_tune._runs.calls import report

        run = self.describe(run_id)
        if run.kind != "evaluate":
            raise ConfigurationError(f"run {run_id} is a {run.kind} run, not an evaluation")
        if not run.is_terminal:
            raise ConfigurationError(f"run {run_id} is still running: wait for it first")
        return report(self._client, run)

    def cancel(self, run_id: str) -> Run:
        """Stop the run's statements in Snowflake (``SYSTEM$CANCEL_QUERY``) and return the run
        once they ended (CANCELLED), or after a minute if they have not yet.

        Statements claimed but not sent yet are given up: should their client still send
        them, they answer nothing. Rows already answered stay in the results table.
        """
        tracker = self.tracker()
        watch = Watch(self._client, self.store, tracker, run_id)
        run = watch.refresh()
        unsent = [p for p in run.parts if p.status is PartStatus.SUBMITTING]
        for part in unsent:
            tracker.recover(part)  # given up first, then adopted if it did start
        run = watch.refresh()
        for part in run.parts:
            if part.live and part.query_id:
                self._cancel_statement(part)
        return self._until_ended(watch)

    def _until_ended(self, watch: Watch) -> Run:
        """The run once its cancelled statements ended, or after CANCEL_WAIT seconds."""
        deadline = self._client._now() + CANCEL_WAIT
        pause = 0.25
        run = watch.refresh()
        while not run.is_terminal and self._client._now() < deadline:
            self._client._sleep(pause)
            pause = min(pause * 2, 5.0)
            run = watch.tick()
        if not run.is_terminal:
            log.warning(
                "run %s: its statements had not ended %.0f s after cancel", run.id, CANCEL_WAIT
            )
        return run

    def _cancel_statement(self, part: RunPart) -> None:
        """SYSTEM$CANCEL_QUERY on one statement. Its answer for a statement that ended
        meanwhile is not documented (a row saying so, or an error): either way the run is read
        again after. A refusal for want of privileges (another user's statement) is raised."""
        try:
            self._client._execute(cancel_query_sql(str(part.query_id)))
        except PermissionDeniedError as exc:
            exc.hint = (
                f"statement {part.query_id} of run {part.run_id} was sent by user "
                f"{part.user_name or 'another user'}: cancelling it takes OWNERSHIP on that "
                "user, OPERATE or OWNERSHIP on the warehouse running it, or ACCOUNTADMIN."
            )
            raise
        except QueryError as exc:  # it ended meanwhile
            log.info("run %s: statement %s was not running: %s", part.run_id, part.query_id, exc)

    def _summary(self, run_id: str, parts: builtins.list[RunPart]) -> Run:
        watch = Watch(self._client, self.store, self.tracker(), run_id)
        watch.parts = parts
        return watch.assemble(count=False)
