"""Benchmarks over the real connector: batching (``batch``) and streaming memory (``memory``).

Both run cortex-tune's wire-tier server from ``tests/wire``: fakesnow's HTTP server with the
Cortex functions installed, behind the fault-injecting ASGI middleware and a TCP proxy, all on
127.0.0.1. The client is ``Cortex.connect(host=..., port=..., protocol="http")``, the path
users take. Added network latency is the middleware's ``slow`` fault armed without end: every
query-request is answered that many milliseconds late.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wire_server import WireServer

os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
ROOT = Path(__file__).resolve().parent.parent
WIRE = ROOT / "tests" / "wire"

#: Generous per-attempt and total timeouts: a big statement must never be cut off and re-sent.
TIMEOUTS: dict[str, Any] = {"socket_timeout": 120, "network_timeout": 300, "login_timeout": 30}
Report = Callable[[str, str, str, str], None]
MODEL = "echo"  # the wire server's stand-in model: answers with the prompt


_SERVER: list[WireServer] = []


def wire_server() -> WireServer:
    """The wire tier's server, started once per process (fakesnow serves one app per process).

    Every benchmark gets it fresh: no faults, no recorded requests, a new emulator.
    """
    if not _SERVER:
        if str(WIRE) not in sys.path:
            sys.path.insert(0, str(WIRE))
        from wire_server import WireServer

        directory = tempfile.TemporaryDirectory(prefix="cortex-tune-bench-")
        server = WireServer(Path(directory.name))
        server.start()
        atexit.register(directory.cleanup)
        atexit.register(server.stop)
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):  # no line per request
            logging.getLogger(name).setLevel(logging.WARNING)
        _SERVER.append(server)
    _SERVER[0].fresh()
    return _SERVER[0]


def _added_latency(server: WireServer, milliseconds: int) -> None:
    """Every query-request from now on is answered ``milliseconds`` late (0: none)."""
    from wire_faults import slow

    server.injector.reset()
    if milliseconds:
        fault = slow(milliseconds / 1000, times=math.inf)
        fault.ttl = math.inf
        server.injector.arm(fault)


def _query_requests(server: WireServer) -> tuple[int, int]:
    """Query-requests seen since the last reset: (statements, of which connector re-sends)."""
    seen = server.injector.requests()
    return len(seen), sum(1 for s in seen if s.retry_count > 0)


# -- 6. batching ----------------------------------------------------------------------------------


def bench_batch(report: Report, prompts: int = 1_000, big: int = 10_000, repeats: int = 3) -> None:
    """complete_many against one complete() per prompt, 20 and 50 ms added per request."""
    server = wire_server()
    cx = server.connect(functions="legacy", **TIMEOUTS)
    try:
        texts = [f"ticket {i}: my bill is wrong" for i in range(prompts)]
        assert [r.text for r in cx.complete_many(MODEL, texts[:10])] == texts[:10]  # warm
        assert cx.complete(MODEL, texts[0]).text == texts[0]

        def timed(fn: Any, items: list[str], latency: int) -> tuple[float, int, int]:
            _added_latency(server, latency)
            start = time.perf_counter()
            fn(items)
            seconds = time.perf_counter() - start
            return (seconds, *_query_requests(server))

        def many(items: list[str]) -> Any:
            results = cx.complete_many(MODEL, items)
            assert all(r.ok for r in results) and results[-1].text == items[-1]

        def loop(items: list[str]) -> Any:
            for text in items:
                cx.complete(MODEL, text)

        for latency in (20, 50):
            batched, looped = [], []
            # The loop is 1,000 round trips (a minute at 50 ms): three runs at the target's
            # latency, one at 20 ms, to keep the whole suite near five minutes.
            loop_runs = repeats if latency == 50 else 1
            for run in range(repeats):  # interleaved, so drift hits both alike
                batched.append(timed(many, texts, latency))
                if run < loop_runs:
                    looped.append(timed(loop, texts, latency))
            b = statistics.median(s for s, _, _ in batched)
            ell = statistics.median(s for s, _, _ in looped)
            b_stmts, b_resent = batched[-1][1:]
            l_stmts, l_resent = looped[-1][1:]
            target = " (target >= 50x)" if latency == 50 else ""
            report(
                f"batch: {prompts:,} prompts, +{latency} ms/request",
                f"complete_many {b:.2f} s, {b_stmts} statement(s) (median of {repeats})",
                f"complete() loop {ell:.2f} s, {l_stmts} statements"
                + (f" (median of {loop_runs})" if loop_runs > 1 else " (1 run)"),
                f"{ell / b:.0f}x faster{target}" + _resent(b_resent + l_resent),
            )
            if latency == 50:
                big_texts = [f"ticket {i}: my bill is wrong" for i in range(big)]
                runs = [timed(many, big_texts, latency) for _ in range(repeats)]
                m = statistics.median(s for s, _, _ in runs)
                stmts, resent = runs[-1][1:]
                extrapolated = ell * big / prompts
                report(
                    f"batch: {big:,} prompts, +{latency} ms/request",
                    f"complete_many {m:.2f} s, {stmts} statement(s) (median of {repeats})",
                    f"complete() loop ~{extrapolated:.0f} s EXTRAPOLATED from "
                    f"{prompts:,} ({big:,} statements)",
                    f"~{extrapolated / m:.0f}x faster (extrapolated)" + _resent(resent),
                )
    finally:
        _added_latency(server, 0)
        cx.close()


def _resent(count: int) -> str:
    return f", {count} connector re-sends" if count else ""


# -- 7. memory ------------------------------------------------------------------------------------

RESULTS_TABLE = "BENCH_RESULTS"


def _build_results_sql(rows: int) -> str:
    """A complete_table-shaped results table, built in SQL rather than by COMPLETE calls."""
    return (
        f"CREATE OR REPLACE TABLE {RESULTS_TABLE} AS SELECT range AS ID, "  # noqa: S608
        "'answer ' || range AS RESPONSE, CAST(NULL AS VARCHAR) AS ERROR, 5 AS TOKENS "
        f"FROM range({int(rows)})"
    )


def _child(mode: str) -> None:
    """One client process: connect, then read (or not), then print its peak RSS as JSON."""
    from cortex_tune import Cortex

    cx = Cortex.connect(**json.loads(os.environ["CORTEX_TUNE_BENCH_CONNECT"]))
    rows = 0
    start = time.perf_counter()
    if mode == "baseline":  # the same client and libraries, one tiny result, nothing read
        rows = len(cx.sql("SELECT 1"))
    elif mode == "stream":
        for batch in cx.read_table(RESULTS_TABLE, batch_size=10_000):
            rows += len(batch)
    elif mode == "fetchall":
        cursor = cx.backend.connection.cursor()  # type: ignore[attr-defined]
        rows = len(cursor.execute(f"SELECT * FROM {RESULTS_TABLE}").fetchall())  # noqa: S608
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with open("/proc/self/status") as status:  # the same peak, as the kernel's VmHWM
        hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    cx.close()
    print(
        json.dumps(
            {"rows": rows, "peak_mb": peak_kb / 1024, "hwm_mb": hwm_kb / 1024, "seconds": seconds}
        )
    )


def _run_child(mode: str, connect: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, CORTEX_TUNE_BENCH_CONNECT=json.dumps(connect))
    # Through a shell that forks: a process exec'd straight from this one starts with this
    # process's peak RSS (server and all) as its own ru_maxrss, as Linux carries it over exec.
    out = subprocess.run(
        ["/bin/sh", "-c", '"$0" "$@"; exit $?', sys.executable, __file__, "child", mode],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory child {mode!r} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_memory(report: Report, rows: int = 1_000_000, repeats: int = 3) -> None:
    """Peak RSS of a client process streaming 1,000,000 result rows, against fetchall()."""
    server = wire_server()
    setup = server.connect(**TIMEOUTS)
    try:
        setup.sql(_build_results_sql(rows))
        assert setup.sql(f"SELECT COUNT(*) FROM {RESULTS_TABLE}")[0][0] == rows  # noqa: S608
    finally:
        setup.close()
    kwargs = server.connect_kwargs(**TIMEOUTS)
    connect = {
        k: v for k, v in kwargs.items() if k not in ("backoff_policy", "retry")
    }  # functions and policies do not cross a process boundary; defaults apply
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], "stream": [], "fetchall": []}
    for _ in range(repeats):  # interleaved
        for mode, samples in results.items():
            samples.append(_run_child(mode, connect))
    peak = {m: statistics.median(s["peak_mb"] for s in v) for m, v in results.items()}
    secs = {m: statistics.median(s["seconds"] for s in v) for m, v in results.items()}
    assert all(s["rows"] == rows for s in results["stream"] + results["fetchall"])
    base = peak["baseline"]
    report(
        f"memory: read_table {rows:,} rows, batch_size=10,000",
        f"peak RSS {peak['stream']:.0f} MB (+{peak['stream'] - base:.0f} MB), {secs['stream']:.1f} s",
        f"client that reads nothing {base:.0f} MB; fetchall() {peak['fetchall']:.0f} MB "
        f"(+{peak['fetchall'] - base:.0f} MB), {secs['fetchall']:.1f} s",
        f"{peak['stream'] / peak['fetchall']:.2f}x of fetchall (target < 200 MB: "
        + ("met)" if peak["stream"] < 200 else "MISSED)"),
    )


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    _child(sys.argv[2])
