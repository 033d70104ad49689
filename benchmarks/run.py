"""cortex-tune benchmarks: each measured side by side with its alternative, in one run.

Run with ``.venv/bin/python benchmarks/run.py`` (after ``python3 tasks.py test`` has built the
environment), or a subset: ``benchmarks/run.py overhead polling``. Every benchmark repeats its
measurement and prints medians and the ratio, because this machine is noisy: ratios measured in
the same run are what to compare, not absolute times. Nothing here is a test; nothing asserts.
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ROWS: list[tuple[str, str, str, str]] = []


def report(name: str, measured: str, baseline: str, ratio: str) -> None:
    """Record one line of the final table (and print it as it comes)."""
    ROWS.append((name, measured, baseline, ratio))
    print(f"  {name}: {measured} | {baseline} | {ratio}", flush=True)


def median_of(fn: Callable[[], float], repeats: int) -> float:
    """The median of ``repeats`` measurements returned by ``fn``."""
    return statistics.median(fn() for _ in range(repeats))


# -- 2. client overhead ---------------------------------------------------------------------------


def bench_overhead(calls: int = 300, repeats: int = 5) -> None:
    """cx.complete(...) against the same SQL through a raw cursor, on one in-process engine."""
    from cortex_tune import Cortex

    cx = Cortex.local(functions="legacy")
    cx.backend.register_model("bench-model", lambda request: "ok")  # type: ignore[attr-defined]
    cursor = cx.backend.connection().cursor()  # type: ignore[attr-defined]

    def raw() -> float:
        start = time.perf_counter()
        for i in range(calls):
            cursor.execute("SELECT SNOWFLAKE.CORTEX.COMPLETE(?, ?)", ["bench-model", f"prompt {i}"])
            cursor.fetchall()
        return (time.perf_counter() - start) / calls

    def client() -> float:
        start = time.perf_counter()
        for i in range(calls):
            cx.complete("bench-model", f"prompt {i}")
        return (time.perf_counter() - start) / calls

    raw(), client()  # warm up both paths
    samples_raw, samples_client = [], []
    for _ in range(repeats):  # interleaved, so drift hits both alike
        samples_raw.append(raw())
        samples_client.append(client())
    r, c = statistics.median(samples_raw), statistics.median(samples_client)
    report(
        "client overhead per complete()",
        f"{c * 1e3:.3f} ms",
        f"raw cursor {r * 1e3:.3f} ms",
        f"{c / r:.3f}x (target <= 1.10x)",
    )


# -- 3. polling -----------------------------------------------------------------------------------


def bench_polling() -> None:
    """DESCRIBE statements and detection delay of wait() on simulated jobs."""
    from cortex_tune import Cortex
    from cortex_tune.testing import FakeBackend

    for label, seconds in (("1 minute", 60.0), ("1 hour", 3600.0), ("10 hours", 36000.0)):
        fake = FakeBackend(job_duration=seconds, pending_seconds=30)
        cx = Cortex(backend=fake)
        job = cx.finetune.create("BENCH", base_model="mistral-7b", training="SELECT 1")
        start = fake.clock.time()
        done = cx.finetune.wait(job.id, progress=False)
        assert done.finished_on is not None
        detected = fake.clock.time()
        delay = detected - done.finished_on.timestamp()
        bound = max(5.0, 0.05 * (detected - start))
        describes = fake.ops().count("finetune.describe") - 1
        report(
            f"wait() on a {label} job",
            f"{describes} DESCRIBE, noticed after {delay:.1f} s",
            f"bound {bound:.0f} s" + (", <= 25 statements" if label == "1 hour" else ""),
            "ok" if delay <= bound and (label != "1 hour" or describes <= 25) else "MISSED",
        )


# -- 4. import time -------------------------------------------------------------------------------


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


IMPORTS = {
    "import pydantic": "import pydantic",
    "import cortex_tune": "import cortex_tune",
    "from pydantic import BaseModel": "from pydantic import BaseModel",
    "from cortex_tune import Cortex": "from cortex_tune import Cortex",
}


def bench_import(repeats: int = 7) -> None:
    """Imports side by side, interleaved, each in a fresh process: medians of ``repeats``.

    ``import cortex_tune`` is set against ``import pydantic`` (both load their names lazily);
    ``from cortex_tune import Cortex`` (the client and its models) against
    ``from pydantic import BaseModel``, the least any pydantic-typed package can load.
    """
    seen: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(repeats):
        for name, statement in IMPORTS.items():
            seen[name].append(_import_seconds(statement))
    median = {name: statistics.median(times) for name, times in seen.items()}
    pydantic = median["import pydantic"]
    for ours, theirs in (
        ("import cortex_tune", "import pydantic"),
        ("from cortex_tune import Cortex", "from pydantic import BaseModel"),
    ):
        report(
            ours,
            f"{median[ours] * 1e3:.0f} ms ({median[ours] / pydantic:.2f}x import pydantic)",
            f"{theirs} {median[theirs] * 1e3:.0f} ms",
            f"{median[ours] / median[theirs]:.2f}x",
        )


# -- 5. emulator throughput -----------------------------------------------------------------------


def bench_emulator(rows: int = 10_000) -> None:
    """Fine-tune on 10,000 pairs and COMPLETE over 10,000 rows on the embedded emulator."""
    import json

    from cortex_tune import Cortex

    cx = Cortex.local(tokens_per_second=1e9)
    data = [{"p": f"ticket {i} about topic {i % 40}", "c": f"topic {i % 40}"} for i in range(rows)]
    cx.sql(
        "CREATE TABLE PAIRS AS SELECT value:p::STRING AS PROMPT, value:c::STRING AS COMPLETION "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        [json.dumps(data)],
    )
    start = time.perf_counter()
    job = cx.finetune.create("BENCH_MODEL", base_model="llama3-8b", training="SELECT * FROM PAIRS")
    job = cx.finetune.wait(job.id, progress=False)
    trained = time.perf_counter() - start
    start = time.perf_counter()
    cx.sql(
        "CREATE TABLE ANSWERS AS SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PROMPT) AS R FROM PAIRS",
        [job.model],
    )
    answered = time.perf_counter() - start
    report(
        f"emulator: fine-tune on {rows:,} pairs",
        f"{trained:.2f} s ({rows / trained:,.0f} pairs/s)",
        f"{os.cpu_count()} cores",
        "-",
    )
    report(
        f"emulator: COMPLETE over {rows:,} rows",
        f"{answered:.2f} s ({rows / answered:,.0f} rows/s)",
        "one statement",
        "-",
    )


# -- 5b. statements per batch under the statement size guidance -----------------------------------


def _batch_statements(texts: list[str], max_bytes: int) -> tuple[int, int]:
    """How many statements complete_many sends for ``texts``, and the largest one's bytes."""
    from cortex_tune import Cortex
    from cortex_tune.testing import FakeBackend

    sizes: list[int] = []
    fake = FakeBackend()
    fake.respond("bench-model", "ok")

    def trace(sql: str, params: tuple[Any, ...]) -> None:
        sizes.append(len(sql.encode()) + sum(len(str(p).encode()) for p in params))

    Cortex(backend=fake, tracer=trace).complete_many("bench-model", texts, max_bytes=max_bytes)
    return len(sizes), max(sizes)


def bench_statements(prompts: int = 10_000) -> None:
    """Statements complete_many sends for 10,000 prompts of 100 B, 1 KB and 10 KB.

    Snowflake recommends at most 1 MB per statement, SQL text and bound values together; the
    chunks are packed greedily under that. Counted on FakeBackend (no SQL engine: the count is
    what matters), against the 8 MB chunks used before and the floor of total bytes / 1 MB.
    """
    for size in (100, 1_000, 10_000):
        texts = [f"{i:05d} " + "x" * (size - 6) for i in range(prompts)]
        counts = [_batch_statements(texts, max_bytes) for max_bytes in (1_000_000, 8_000_000)]
        (now, largest), (before, _) = counts
        floor = -(-prompts * (size + 13) // 1_000_000)  # each prompt is {"i":n,"p":"..."}, in JSON
        report(
            f"statements for {prompts:,} prompts of {size:,} B",
            f"{now} (largest {largest:,} bytes)",
            f"{before} with 8 MB chunks; floor {floor}",
            "-",
        )


# -- 6, 7. over the real connector (benchmarks/wire_bench.py) -------------------------------------


def bench_batch() -> None:
    """complete_many against one complete() per prompt, real connector, added latency."""
    import wire_bench

    wire_bench.bench_batch(report)


def bench_memory() -> None:
    """Peak client RSS reading 1,000,000 rows with read_table, against fetchall()."""
    import wire_bench

    wire_bench.bench_memory(report)


# -- 8. runs over the real connector (benchmarks/runs_bench.py) ------------------------------------


def bench_parallel() -> None:
    """A table in N concurrent key partitions against one statement, real connector."""
    import runs_bench

    runs_bench.bench_parallel(report)


def bench_runpolls() -> None:
    """Status polls of cx.runs.wait for a one-hour run: simulated, and at 1/100 scale."""
    sys.path.insert(0, str(HERE.parent / "tests"))  # the simulation of tests/test_runs_polling.py
    import runs_bench

    runs_bench.bench_runpolls(report)


BENCHMARKS: dict[str, Callable[[], Any]] = {
    "overhead": bench_overhead,
    "polling": bench_polling,
    "import": bench_import,
    "emulator": bench_emulator,
    "statements": bench_statements,
    "batch": bench_batch,
    "memory": bench_memory,
    "parallel": bench_parallel,
    "runpolls": bench_runpolls,
}


def main(names: list[str]) -> None:
    """Run the named benchmarks (all by default) and print the table."""
    chosen = names or list(BENCHMARKS)
    for name in chosen:
        print(f"[{name}]", flush=True)
        BENCHMARKS[name]()
    width = max(len(r[0]) for r in ROWS)
    print("\n" + f"{'benchmark':<{width}} | measured | baseline | ratio")
    for row in ROWS:
        print(f"{row[0]:<{width}} | {row[1]} | {row[2]} | {row[3]}")


if __name__ == "__main__":
    main(sys.argv[1:])
