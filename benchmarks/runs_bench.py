"""Benchmarks of runs over the real connector (``parallel``, ``runpolls``).

Both run the wire tier's server (see ``wire_bench``): fakesnow's HTTP server with the Cortex
functions, on 127.0.0.1; the client is ``Cortex.connect`` with connector 4.8. The model has a
fixed per-row cost on the server (it sleeps), the stand-in for Cortex's time per completion.

- ``parallel``: one table answered by ``complete_table`` split into N key partitions running as
  concurrent statements, against the same run as one statement (N=1); and N=1 against a client
  without a runs table (the synchronous INSERT of before). Wall time, median of ``repeats``.
- ``runpolls``: the status polls ``cx.runs.wait`` spends on a run, (a) simulated, one hour on a
  virtual clock, as ``tests/test_runs_polling.py`` does, and (b) for real on the wire tier at a
  hundredth of the scale: a 36-second run polled with a 0.05 s shortest pause instead of 5 s (the
  schedule depends only on the ratio of the two).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from wire_bench import TIMEOUTS, Report, wire_server

#: Seconds the model takes per row in ``parallel``.
PER_ROW = 0.01
ROWS = 600


def _slow_model(server: Any, per_row: float) -> None:
    def model(request: Any) -> str:
        time.sleep(per_row)
        return f"ans:{request.prompt}"

    server.emulator.register_model("slow", model)


def _source(cx: Any, rows: int) -> None:
    sql = "CREATE OR REPLACE TABLE BSRC AS SELECT seq4() AS ID, 'p' || seq4() AS PROMPT FROM "
    cx.sql(sql + f"TABLE(GENERATOR(ROWCOUNT => {int(rows)}))")  # a number, not a value to bind


def bench_parallel(report: Report, repeats: int = 3) -> None:
    """Wall time of one table in N = 1, 2, 4 concurrent partitions against one statement."""
    server = wire_server()
    _slow_model(server, PER_ROW)
    cx = server.connect(poll_min=0.1, **TIMEOUTS)
    plain = server.connect(runs_table=None, **TIMEOUTS)
    try:
        _source(cx, ROWS)

        def one(client: Any, **options: Any) -> float:
            client.sql("DROP TABLE IF EXISTS BOUT")
            start = time.perf_counter()
            summary = client.complete_table(
                "slow", source="BSRC", into="BOUT", key="ID", prompt="PROMPT", **options
            )
            seconds = time.perf_counter() - start
            assert summary.rows_done == ROWS
            assert client.sql("SELECT COUNT(DISTINCT ID) FROM BOUT") == [(ROWS,)]
            return seconds

        samples: dict[str, list[float]] = {"sync": [], "1": [], "2": [], "4": []}
        for _ in range(repeats):  # interleaved, so drift hits every variant alike
            samples["sync"].append(one(plain))
            for n in (1, 2, 4):
                samples[str(n)].append(one(cx, parallel=n))
        took = {name: statistics.median(values) for name, values in samples.items()}
        for n in (1, 2, 4):
            report(
                f"parallel: {ROWS} rows at {PER_ROW * 1e3:.0f} ms/row, N={n}",
                f"{took[str(n)]:.2f} s (median of {repeats})",
                f"the run as one statement (N=1) {took['1']:.2f} s",
                f"{took[str(n)] / took['1']:.2f}x",
            )
        report(
            f"parallel: {ROWS} rows, N=1 against a synchronous statement",
            f"{took['1']:.2f} s",
            f"runs_table=None (the synchronous INSERT) {took['sync']:.2f} s",
            f"{took['1'] / took['sync']:.2f}x",
        )
    finally:
        cx.close()
        plain.close()


def bench_runpolls(report: Report) -> None:
    """Status polls for a one-hour run: simulated, then for real at 1/100 scale."""
    _simulated(report)
    _scaled(report)


def _simulated(report: Report) -> None:
    import test_runs_polling as sim  # tests/ is on sys.path (run.py puts it there)
    from cortex_tune._core.wait import PollSchedule
    from cortex_tune._runs.watch import wait_run
    from cortex_tune.testing import FakeClock

    for rows, parallel in ((2_000, 1), (200_000, 1), (200_000, 4)):
        clock = FakeClock()
        run = sim.SimulatedRun(clock, rows=rows, parallel=parallel)
        schedule = PollSchedule(min_interval=5.0)
        wait_run(
            run.tick,
            clock=clock.time,
            sleep=clock.sleep,
            timeout=None,
            schedule=schedule,
            raise_on_error=False,
            progress=False,
        )
        late = clock.time() - run.t0 - sim.HOUR
        report(
            f"runpolls: 1 hour run of {rows:,} rows, N={parallel}, simulated",
            f"{run.polls} polls, noticed after {late:.1f} s",
            f"bound {schedule.bound(sim.HOUR):.0f} s, <= 25 polls",
            "ok" if run.polls <= 25 and late <= schedule.bound(sim.HOUR) else "MISSED",
        )


def _scaled(report: Report, rows: int = 2000, seconds: float = 36.0) -> None:
    server = wire_server()
    _slow_model(server, seconds / rows)
    cx = server.connect(poll_min=0.05, **TIMEOUTS)
    try:
        _source(cx, rows)
        cx.sql("DROP TABLE IF EXISTS BOUT")
        start = time.perf_counter()
        run = cx.complete_table(
            "slow", source="BSRC", into="BOUT", key="ID", prompt="PROMPT", parallel=1, wait=False
        )
        polls: list[Any] = []
        done = cx.runs.wait(run.id, progress=polls.append)
        took = time.perf_counter() - start
        assert done.succeeded and done.rows_done == rows
        report(
            f"runpolls: {took:.0f} s run (1 hour at 1/100), N=1, wire tier",
            f"{len(polls)} polls (0.05 s shortest pause)",
            "<= 25 polls",
            "ok" if len(polls) <= 25 else "MISSED",
        )
    finally:
        cx.close()
