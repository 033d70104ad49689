"""complete_table as a run: attach to the live run of the same work or plan a new one, send only
what no live statement covers (see ``send`` for how), drive chunks within a token budget, and
sum up what the call did.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cortex_tune._core.errors import ConfigurationError, RunConflictError
from cortex_tune._core.statement import Statement
from cortex_tune._inference.sql_batch import (
    complete_table_sql,
    remaining_keys_sql,
    table_summary_sql,
)
from cortex_tune._runs.models import PartStatus, Run, RunPart
from cortex_tune._runs.plan import Plan, TableWork, make_plan, new_run_id, shares
from cortex_tune._runs.send import Sender
from cortex_tune._runs.sql import guard
from cortex_tune._runs.store import Claim, RunStore
from cortex_tune._runs.track import Tracker
from cortex_tune._runs.watch import Watch
from cortex_tune.sql import new_marker

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: Tries at claiming before giving way to another client for good.
CLAIM_ATTEMPTS = 6
#: A token budget is checked between chunks of this many rows unless chunk_rows says otherwise.
BUDGET_CHUNK = 1000
#: Times a call sends again the keys its ended statements left unanswered.
REOPEN_ROUNDS = 3


@dataclass(frozen=True)
class Limits:
    """How far one call may go: ``limit`` rows, ``token_budget`` tokens, chunks of
    ``chunk_rows`` rows, ``parallel`` lanes."""

    limit: int | None = None
    token_budget: int | None = None
    chunk_rows: int | None = None
    parallel: int | None = None

    @property
    def chunked(self) -> bool:
        """Whether each lane goes in chunks, each sent when the one before it ended."""
        return self.chunk_rows is not None or self.token_budget is not None

    def chunk(self) -> int | None:
        if self.chunk_rows is not None:
            return self.chunk_rows
        return BUDGET_CHUNK if self.token_budget is not None else None

    def check(self, wait: bool) -> None:
        for name in ("limit", "token_budget", "chunk_rows"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigurationError(f"{name} must be a positive integer, not {value!r}")
        if not wait and self.chunked:
            raise ConfigurationError(
                "token_budget and chunk_rows need wait=True: the client that waits sends each "
                "chunk when the one before it ended (limit= bounds a run that does not wait)"
            )


@dataclass
class Lane:
    """What this call may still do in one lane."""

    left: int | None  # rows it may still send there (None: all)
    done: bool = False


class TableRun:
    """One call of complete_table, as a run of the runs table."""

    def __init__(
        self, cx: Cortex, store: RunStore, tracker: Tracker, work: TableWork, limits: Limits
    ) -> None:
        self.cx, self.store, self.tracker, self.work, self.limits = cx, store, tracker, work, limits
        self.run_id = ""
        self.plan = Plan()
        self.lanes: dict[int, Lane] = {}
        self.sender = Sender(cx, store, tracker)
        self.statements = 0
        self.sent_rows = 0
        self.budget_stopped = False
        self.reopened = 0
        self.remaining: dict[int, int] = {}
        self.start = self._totals()
        self.watch: Watch | None = None

    # -- starting --------------------------------------------------------------------------------

    def begin(self) -> None:
        """Attach to the live run of this work, or plan one; send what nothing live covers."""
        for attempt in range(CLAIM_ATTEMPTS):
            parts, now = self.store.parts(work=self.work.id)
            parts = self.tracker.settle(parts, now)
            live = [p for p in parts if p.live]
            if live:
                self._attach(live[0])
                covered = {_lane(p.lane) for p in live if p.run_id == self.run_id}
                counts = self._count(self.plan) if self.plan.buckets else self._count(None)
            else:
                counts = self._plan()
                covered = set()
            self.watch = Watch(self.cx, self.store, self.tracker, self.run_id)
            self.watch.parts = [p for p in parts if p.run_id == self.run_id]
            self._lanes(covered, counts)
            if self._send({p.marker for p in live}) is not None:
                return
            pause = random.uniform(0.5, 1.5) * (attempt + 1)
            log.info(
                "run %s: another client is starting it too; pausing %.1f s", self.run_id, pause
            )
            self.cx._sleep(pause)
        raise RunConflictError(
            f"another client kept starting statements of the same run ({self.run_id}) while "
            "this one tried to; nothing was sent twice"
        )

    def _attach(self, part: RunPart) -> None:
        self.run_id, self.plan = part.run_id, Plan.from_dict(part.plan)
        log.info("attaching to run %s, still running (statement %s)", self.run_id, part.query_id)

    def _plan(self) -> dict[int, int]:
        total = self._count(None)[0]
        limit = self.limits.limit
        rows_todo = total if limit is None else min(total, limit)
        plan = make_plan(rows_todo, self.limits.parallel, base=self.start)
        counts = self._count(plan) if plan.buckets else {0: total}
        self.run_id = new_run_id()
        self.plan = dataclasses.replace(plan, expected=shares(counts, limit))
        log.info(
            "run %s: %d rows in %d lane(s)%s",
            self.run_id,
            rows_todo,
            plan.lanes,
            " and a probe" if plan.probe else "",
        )
        return counts

    def _count(self, plan: Plan | None) -> dict[int, int]:
        lanes = None if plan is None else plan.lane_of(self.work.key)
        statement = remaining_keys_sql(
            source=self.work.source, into=self.work.into, key=self.work.key, lanes=lanes
        )
        self.statements += 1
        rows = self.cx._execute(statement).rows
        if plan is None:
            return {0: int(rows[0][0])}
        counts = dict.fromkeys(plan.lane_ids(), 0)
        counts.update({int(lane): int(n) for lane, n in rows})
        return counts

    def _lanes(self, covered: set[int], counts: dict[int, int]) -> None:
        """What this call may do in each lane: nothing where no key is left, or where a live
        statement covers every key (unless lanes go in chunks: then the lane goes on after
        it); under a limit, shares of it in proportion to the keys left."""
        if not self.plan.buckets:
            covered = {0} if covered else set()
        allowed = shares(
            {k: n for k, n in counts.items() if k not in covered or self.limits.chunked},
            self.limits.limit,
        )
        self.lanes = {}
        self.remaining = dict(counts)
        for lane in self.plan.lane_ids():
            left = allowed.get(lane, 0) if self.limits.limit is not None else None
            done = counts.get(lane, 0) == 0 or (lane in covered and not self.limits.chunked)
            self.lanes[lane] = Lane(left=left, done=done)

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, known: set[str]) -> int | None:
        """Send the statements that can go now and say how many; None if another client is
        claiming statements of the same work at the same time (nothing was sent)."""
        claims = self._claims()
        if not self.sender.send(self.work.id, claims, known, self._statement):
            for claim in claims:  # given back: those lanes are to do again
                lane = self.lanes[_lane(claim.lane)]
                lane.done = False
                if lane.left is not None and claim.limit is not None:
                    lane.left += claim.limit
            return None
        self.sent_rows += sum(c.limit or 0 for c in claims)
        return len(claims)

    def _claims(self) -> list[Claim]:
        parts = self.watch.parts if self.watch else []
        busy = {_lane(p.lane) for p in parts if p.live}
        in_flight = sum(p.rows_todo or 0 for p in parts if p.live)
        number = max((p.part for p in parts), default=-1) + 1
        claims: list[Claim] = []
        for lane_id, lane in self.lanes.items():
            if lane.done or lane_id in busy:
                continue
            size = _smallest(self.limits.chunk(), lane.left)
            if size == 0:
                lane.done = True
                continue
            budget = self._budget(in_flight)
            if budget != "go":
                self.budget_stopped = budget == "stop"
                break
            in_flight += size or 0
            claims.append(self._claim(lane_id, number + len(claims), size))
            if lane.left is not None and size is not None:
                lane.left -= size
            if not self.limits.chunked:
                lane.done = True
        return claims

    def _claim(self, lane: int, number: int, size: int | None) -> Claim:
        expected = size if size is not None else self.remaining.get(lane)
        return Claim(
            run_id=self.run_id,
            part=number,
            kind="complete_table",
            target=self.work.into,
            work=self.work.id,
            parameters=self.work.parameters(),
            plan=self.plan.to_dict(),
            lane=lane if self.plan.buckets else None,
            marker=new_marker(),
            rows_todo=expected,
            limit=size,
        )

    def _budget(self, in_flight: int) -> str:
        """Whether another chunk may go under the token budget: ``go``; ``wait`` for what is
        in flight (the first chunk, which tells what a row costs, or chunks expected to reach
        the budget); or ``stop``, the budget is spent. The run stops after the chunks that
        reach the budget, as one lane stops after the one that does."""
        budget = self.limits.token_budget
        if budget is None:
            return "go"
        counted = self.watch.totals if self.watch is not None else None
        rows, _, tokens = counted or self.start
        used, done = tokens - self.start[2], rows - self.start[0]
        if used >= budget:
            return "stop"
        if done <= 0:
            return "wait" if in_flight else "go"
        return "wait" if used + in_flight * used / done >= budget else "go"

    def _statement(self, claim: Claim) -> Statement:
        condition, values = self.plan.condition(_lane(claim.lane), self.work.key)
        claimed, marker = guard(self.store.table, claim.marker)
        where = (f"{condition} AND {claimed}" if condition else claimed, (*values, *marker))
        return complete_table_sql(
            self.work.model,
            source=self.work.source,
            into=self.work.into,
            key=self.work.key,
            prompt=self.work.prompt,
            options=self.work.options,
            functions=self.work.generation,
            limit=claim.limit,
            where=where,
        )

    # -- driving ---------------------------------------------------------------------------------

    def tick(self) -> Run:
        """One poll of the run; when a statement ended, the next chunks are sent."""
        assert self.watch is not None
        reads = self.watch.reads
        run = self.watch.tick()
        while self.watch.reads != reads:  # the table was read: a statement may have ended
            reads = self.watch.reads
            self._ended(self.watch.parts)
            known = {p.marker for p in self.watch.parts if p.live}
            if not self._claims_pending() and not known and not self._reopen():
                break
            if self._send(known):
                run = self.watch.refresh()  # what was just sent may have ended already
        return run

    def _reopen(self) -> bool:
        """Once nothing runs, the keys are counted again: a lane whose keys are not all
        answered gets another statement (a statement that started after its claim was given
        up answered nothing), unless its last statement failed, the budget or the limit is
        spent, or this has been tried REOPEN_ROUNDS times."""
        if self.budget_stopped or self.reopened >= REOPEN_ROUNDS or self.watch is None:
            return False
        allowance = None
        if self.limits.limit is not None:
            rows = (self.watch.totals or self.start)[0]
            allowance = self.limits.limit - (rows - self.start[0])
            if allowance <= 0:
                return False
        ended = {_lane(p.lane): p for p in self.watch.parts if p.status is not PartStatus.ABANDONED}
        counts = self._count(self.plan if self.plan.buckets else None)
        todo = {
            lane: n
            for lane, n in counts.items()
            if n > 0 and (lane not in ended or ended[lane].status is PartStatus.SUCCEEDED)
        }
        if not todo:
            return False
        self.reopened += 1
        self.remaining = todo
        given = shares(todo, allowance)
        for lane, n in given.items():
            if n > 0 and lane in self.lanes:
                self.lanes[lane] = Lane(left=n if allowance is not None else None)
        log.info("run %s: %d keys left unanswered; sending again", self.run_id, sum(todo.values()))
        return True

    def _claims_pending(self) -> bool:
        busy = {_lane(p.lane) for p in self.watch.parts if p.live} if self.watch else set()
        return any(not lane.done and i not in busy for i, lane in self.lanes.items())

    def _ended(self, parts: list[RunPart]) -> None:
        """Lanes whose last statement failed, or answered fewer rows than it could, are done."""
        last: dict[int, RunPart] = {}
        for part in parts:
            if part.status is not PartStatus.ABANDONED:
                last[_lane(part.lane)] = part
        for lane_id, part in last.items():
            lane = self.lanes.get(lane_id)
            if lane is None or part.live:
                continue
            short = part.rows_todo is not None and (part.rows_done or 0) < part.rows_todo
            if part.status is not PartStatus.SUCCEEDED or short:
                lane.done = True

    def summary(self) -> dict[str, Any]:
        """What this call did, relative to the results table when it began."""
        watch = self.watch
        counted = watch is not None and watch.run is not None and watch.run.is_terminal
        # The read that saw the run end counted the results table after its last statement
        # ended: nothing has changed it since, so it is not counted a second time.
        rows, failed, tokens = (watch.totals if counted and watch else None) or self._totals()
        done = rows - self.start[0]
        if self.budget_stopped:
            stopped = "token_budget"
        elif self.limits.limit is not None and done >= self.limits.limit:
            stopped = "limit"
        else:
            stopped = "done"
        return {
            "rows_done": done,
            "rows_failed": failed - self.start[1],
            "tokens": tokens - self.start[2],
            "statements": self.statements + self.store.statements + self.sender.statements,
            "stopped": stopped,
            "run_id": self.run_id or None,
        }

    def _totals(self) -> tuple[int, int, int]:
        self.statements += 1
        rows, failed, tokens = self.cx._execute(table_summary_sql(self.work.into)).rows[0]
        return int(rows), int(failed), int(tokens or 0)


def _lane(lane: int | None) -> int:
    """A part's lane (a run of one statement has one lane, 0)."""
    return 0 if lane is None else lane


def _smallest(*values: int | None) -> int | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None
