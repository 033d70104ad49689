"""Sending a run's statements: claim, check, send.

Whoever starts statements of a run (a first run, a re-run, a second client) follows one
protocol. The statements to start are claimed in the runs table (SUBMITTING, each with a fresh
marker); the live parts of the work are read again; if any appeared that the client had not
seen before it claimed, another client is starting statements of the same work at the same
time, and this one withdraws its claims (they were never sent) and tries again a little later.
Snowflake's READ COMMITTED isolation ("a statement only sees data that was committed before the
statement began") makes this safe: of two clients claiming at once, the one whose check comes
later sees the other's claim, so at most one goes ahead. Only then are the statements sent,
each carrying a condition on its own claim (see ``track``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cortex_tune._backends.base import Result
from cortex_tune._client.reconcile import is_ambiguous
from cortex_tune._core.errors import CortexError, StatementMayHaveRunError
from cortex_tune._core.statement import Statement, mark
from cortex_tune._runs.store import Claim, Context, RunStore
from cortex_tune._runs.track import Tracker

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")


class Sender:
    """Claims, checks and sends statements of runs.

    Attributes:
        statements: Statements it ran (claims, checks, submissions, records).
        results: The rows of statements a backend without asynchronous submission ran to
            their end while they were sent, by marker.
    """

    def __init__(self, cx: Cortex, store: RunStore, tracker: Tracker) -> None:
        self.cx, self.store, self.tracker = cx, store, tracker
        self.statements = 0
        self.results: dict[str, Result] = {}

    def send(
        self,
        work: str,
        claims: Sequence[Claim],
        known: set[str],
        build: Callable[[Claim], Statement],
    ) -> bool:
        """Claim, check and send ``claims``; False (nothing sent) if another client claimed
        statements of ``work`` that were not in ``known`` (the live parts seen before)."""
        if not claims:
            return True
        context = self.store.context()
        self.tracker.user = context.user
        self.store.claim(claims, context)
        live, _ = self.store.parts(work=work, live=True)
        mine = {c.marker for c in claims}
        if any(p.marker not in mine and p.marker not in known for p in live):
            self.store.withdraw(sorted(mine))
            return False
        for claim in claims:
            self._submit(claim, context, mark(build(claim), claim.marker))
        return True

    def _submit(self, claim: Claim, context: Context, statement: Statement) -> None:
        self.statements += 1
        try:
            if self.cx._can_submit:
                query_id = self.cx._submit(statement)
            else:  # runs to its end here; its outcome is read from the query history after
                result = self.cx._execute(statement)
                self.results[claim.marker] = result
                query_id = result.query_id or ""
        except CortexError as exc:
            if self.cx._can_submit and not is_ambiguous(exc):
                self.store.withdraw([claim.marker])  # refused: it never ran
                raise
            # It may have run: give up the claim first (a statement that has not started yet
            # then answers nothing), and adopt it if its session's query history shows it.
            log.info(
                "run %s: statement %s may have run; looking for it", claim.run_id, claim.marker
            )
            try:
                self.tracker.recover(claim.part_of(context))
            except CortexError as lookup:
                raise StatementMayHaveRunError(
                    f"the answer to a statement of run {claim.run_id} was lost ({exc.message}) "
                    f"and its session's query history could not be read ({lookup.message}); it "
                    "was not sent again",
                    marker=claim.marker,
                    op=statement.op,
                    hint=f"cx.runs.describe({claim.run_id!r}) finds out once the history can "
                    "be read; calling the same work again attaches to it if it runs.",
                ) from exc
            if not self.cx._can_submit:
                raise
            return
        self.store.started(claim.marker, query_id)
