"""Keeping the runs table true: how each live statement of a run is doing, and how it ended.

A part is *live* while it is SUBMITTING (claimed, its statement about to be sent) or RUNNING.
What Snowflake says decides when it stops being live, never a guess:

- a RUNNING part with a query id is asked about with ``get_query_status`` (no warehouse
  statement); once that says it ended (or Snowflake has not known the id for
  ``NO_DATA_GRACE`` seconds), its session's query history is read for how it ended;
- a SUBMITTING part older than ``CLAIM_GRACE`` seconds was claimed by a client that went away
  before it recorded a query id. Its claim is first marked ABANDONED, which stops the statement
  from answering anything should it start later (every statement of a run carries a condition
  on its claim), and only then is the history of the claiming session searched for the
  statement's marker: found, it is running (or ended) and is adopted; not found, it never ran.

A backend that cannot submit asynchronously runs each statement to its end before recording it;
its parts are settled from the query history alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cortex_tune._backends.base import StatementStatus
from cortex_tune._core.constants import CLAIM_GRACE, NO_DATA_GRACE
from cortex_tune._core.errors import CortexError
from cortex_tune._runs.models import PartStatus, RunPart
from cortex_tune._runs.store import RunStore, Seen

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")


@dataclass
class Tracker:
    """Settles the live parts of runs against Snowflake.

    Attributes:
        claim_grace: Seconds a claim may stay without a query id before it is looked into.
        no_data_grace: Seconds a query id may stay unknown to Snowflake before its history is.
    """

    cx: Cortex
    store: RunStore
    claim_grace: float = CLAIM_GRACE
    no_data_grace: float = NO_DATA_GRACE
    user: str | None = None
    #: How the statements that failed ended, by marker (their error code and message).
    failures: dict[str, Seen] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def changed(self, parts: list[RunPart]) -> bool:
        """Whether any live part may have moved on, by status requests only (no warehouse
        statement): an ended or unknown statement, or a part without a query id to ask for."""
        for part in parts:
            if not part.live:
                continue
            if part.query_id is None or not self.cx._can_submit:
                return True
            if not self.cx._status(part.query_id, part.kind).running:
                return True
        return False

    def settle(self, parts: list[RunPart], now: dt.datetime) -> list[RunPart]:
        """``parts`` with every live one brought up to date (the table updated to match)."""
        return [self._settled(part, now) if part.live else part for part in parts]

    def recover(self, part: RunPart) -> RunPart:
        """A claimed part whose submission may or may not have gone through, looked for in its
        session's query history: found, it is adopted; not found, its claim is given up first
        (a statement that starts later then answers nothing) and the history read again.

        Raises:
            CortexError: The history could not be read; the part stays claimed (live), to be
                looked into again later.
        """
        seen = self.store.history(part)
        if _pick(seen) is None:
            self.store.abandon([part.marker])
            try:
                seen = self.store.history(part)
            except CortexError:
                self.store.settle(part.marker, PartStatus.SUBMITTING.value)  # live again
                raise
        return self._decide(part, seen, missing=PartStatus.ABANDONED)

    def _settled(self, part: RunPart, now: dt.datetime) -> RunPart:
        if part.status is PartStatus.SUBMITTING:
            if _age(part.created_on, now) < self.claim_grace:
                return part  # its client is about to send it
            log.info("run %s: statement %s was never recorded as sent", part.run_id, part.marker)
            return self.recover(part)
        status = None
        if part.query_id is not None and self.cx._can_submit:
            status = self.cx._status(part.query_id, part.kind)
            if status.running:
                return part
            if status.unknown and _age(part.updated_on, now) < self.no_data_grace:
                return part
        return self._decide(part, self.store.history(part), missing=PartStatus.LOST, status=status)

    def _decide(
        self,
        part: RunPart,
        runs: list[Seen],
        *,
        missing: PartStatus,
        status: StatementStatus | None = None,
    ) -> RunPart:
        seen = _pick(runs)
        if seen is None:
            if self._foreign(part):
                # Another user's statement: its history is not ours to read, but the status
                # request may still say how it ended (the documentation does not say whether
                # it answers for another user's statement).
                if status is None or not (status.succeeded or status.failed):
                    return part
                seen = _from_status(part, status)
            else:
                self.store.settle(part.marker, missing.value)
                return part.model_copy(update={"status": missing, "status_raw": missing.value})
        if not (seen.succeeded or seen.failed):  # still running
            if part.status is PartStatus.RUNNING and part.query_id == seen.query_id:
                return part
            self.store.settle(part.marker, "RUNNING", query_id=seen.query_id)
            running: dict[str, object] = {"status": PartStatus.RUNNING, "status_raw": "RUNNING"}
            return part.model_copy(update={**running, "query_id": seen.query_id})
        if seen.succeeded:
            state, error = PartStatus.SUCCEEDED, None
        else:
            state = PartStatus.CANCELLED if seen.cancelled else PartStatus.FAILED
            error = seen.error_message or f"the statement ended {seen.status}"
            self.failures[part.marker] = seen
        self.store.settle(
            part.marker,
            state.value,
            query_id=seen.query_id,
            rows_done=seen.rows,
            seconds=seen.seconds,
            error=error,
        )
        update: dict[str, object] = {
            "status": state,
            "status_raw": state.value,
            "query_id": seen.query_id,
            "rows_done": seen.rows,
            "seconds": seen.seconds,
            "error": error,
        }
        return part.model_copy(update=update)

    def _foreign(self, part: RunPart) -> bool:
        if part.user_name is None:
            return False
        if self.user is None:
            self.user = self.store.context().user
        if part.user_name == self.user:
            return False
        if part.marker not in self._warned:
            self._warned.add(part.marker)
            log.warning(
                "run %s: its statement %s was sent by user %s, whose query history this user "
                "cannot read; it is taken as still running",
                part.run_id,
                part.query_id or part.marker,
                part.user_name,
            )
        return True


def _from_status(part: RunPart, status: StatementStatus) -> Seen:
    """How a statement ended as its status request tells it (no rows, times or message)."""
    message = None if status.succeeded else f"the statement ended {status.name}"
    return Seen(str(part.query_id), status.name, None, message, None, None)


def _pick(seen: list[Seen]) -> Seen | None:
    """The run to decide on: a success, else one still running, else the last."""
    for wanted in (
        lambda s: s.succeeded,
        lambda s: not (s.succeeded or s.failed),
        lambda s: True,
    ):
        found = [s for s in seen if wanted(s)]
        if found:
            return found[-1]
    return None


def _age(when: dt.datetime | None, now: dt.datetime) -> float:
    if when is None:
        return float("inf")
    return (now - when).total_seconds()
