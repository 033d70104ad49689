"""Waiting for a run polls little: a one-hour run costs at most 25 status polls, as a job does.

A run's statements commit their rows only when they end, so a run reports no progress while
they run; its small first statement (the probe) ends early, and its pace predicts the others',
which the polling schedule of ``finetune.wait`` then closes in on. Simulated on a fake clock:
statements of a one-hour run, the runs module's own progress estimate and waiting loop.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cortex_tune import Run
from cortex_tune._core.wait import PollSchedule
from cortex_tune._runs.models import RunPart
from cortex_tune._runs.plan import make_plan
from cortex_tune._runs.watch import estimate, status_of, wait_run
from cortex_tune.testing import FakeClock

HOUR = 3600.0
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class SimulatedRun:
    """A run whose lanes each answer ``rate`` rows a second, on ``clock``."""

    def __init__(self, clock: FakeClock, rows: int, parallel: int) -> None:
        self.clock, self.t0 = clock, clock.time()
        self.plan = make_plan(rows, parallel, base=(0, 0, 0))
        probe = rows // self.plan.buckets if self.plan.probe else 0
        lanes = dict.fromkeys(range(self.plan.lanes), (rows - probe) // self.plan.lanes)
        self.rows = {-1: probe, **lanes} if probe else lanes
        self.rate = max(lanes.values()) / HOUR  # the longest lane takes an hour
        self.polls = 0

    def end_of(self, lane: int) -> float:
        return self.rows[lane] / self.rate

    def tick(self) -> Run:
        self.polls += 1
        elapsed = self.clock.time() - self.t0
        now = START + dt.timedelta(seconds=elapsed)
        parts = []
        for number, (lane, rows) in enumerate(self.rows.items()):
            ended = elapsed >= self.end_of(lane)
            parts.append(
                RunPart(
                    run_id="run_sim",
                    part=number,
                    kind="complete_table",
                    lane=lane,
                    status="SUCCEEDED" if ended else "RUNNING",
                    rows_todo=rows,
                    rows_done=rows if ended else None,
                    seconds=self.end_of(lane) if ended else None,
                    created_on=START,
                )
            )
        done = sum(p.rows_done or 0 for p in parts)
        status, _ = status_of(parts)
        total = sum(self.rows.values())
        return Run(
            id="run_sim",
            status=status,
            rows_todo=total,
            rows_done=done,
            progress=estimate(total, done, parts, self.plan, now),
            parts=parts,
        )


@pytest.mark.parametrize("rows", [2_000, 200_000])
@pytest.mark.parametrize("parallel", [1, 4])
def test_a_one_hour_run_costs_at_most_25_polls_and_is_seen_ending_promptly(
    parallel: int, rows: int
) -> None:
    clock = FakeClock()
    run = SimulatedRun(clock, rows=rows, parallel=parallel)
    schedule = PollSchedule(min_interval=5.0)

    ended = wait_run(
        run.tick,
        clock=clock.time,
        sleep=clock.sleep,
        timeout=None,
        schedule=schedule,
        raise_on_error=False,
        progress=False,
    )

    assert ended.succeeded
    waited = clock.time() - run.t0
    print(f"[measure] one-hour run of {rows} rows, parallel={parallel}: {run.polls} polls")
    assert run.polls <= 25
    assert waited - HOUR <= schedule.bound(HOUR), "the end is noticed within the bound"
