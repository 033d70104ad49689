"""``python -m cortex_tune._conformance``: run the probes against a real account, write the report.

``python3 tasks.py live`` runs this (after checking ``CORTEX_TUNE_LIVE=1`` and a connection).
Environment: ``CORTEX_TUNE_CONNECTION`` (a connections.toml name; default: the connector's default
connection), ``CORTEX_TUNE_LIVE_MODEL`` (default ``llama3.1-8b``) and
``CORTEX_TUNE_LIVE_FINETUNE=1`` (also create and cancel one fine-tuning job).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence

from cortex_tune._conformance import all_probes, cost_note, run
from cortex_tune._conformance.report import ProbeRecord
from cortex_tune._conformance.runner import Settings
from cortex_tune._core.errors import CortexError


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, with defaults from the environment."""
    env = os.environ
    today = dt.date.today().isoformat()
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py live",
        description="Run every statement shape cortex-tune relies on once against a Snowflake "
        "account and write a conformance report (shapes, types and keys; never values).",
    )
    parser.add_argument("--out", default=f"cortex-tune-conformance-{today}.json")
    parser.add_argument("--connection", default=env.get("CORTEX_TUNE_CONNECTION") or None)
    parser.add_argument("--model", default=env.get("CORTEX_TUNE_LIVE_MODEL") or Settings.model)
    parser.add_argument("--base-model", default=Settings.base_model)
    parser.add_argument(
        "--finetune",
        action="store_true",
        default=env.get("CORTEX_TUNE_LIVE_FINETUNE") == "1",
        help="also create one fine-tuning job and cancel it at once",
    )
    parser.add_argument(
        "--plan", action="store_true", help="print the probes and their cost; run nothing"
    )
    return parser.parse_args(argv)


def _progress(record: ProbeRecord) -> None:
    print(f"  {record.status:<7} {record.name}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Connect, print the cost, run every probe once, write the report.

    Returns 0 once the report is written, 1 when connecting failed, 130 when Ctrl-C cut the
    run short (the report of what ran is written all the same).
    """
    args = parse(argv)
    settings = Settings(model=args.model, finetune=args.finetune, base_model=args.base_model)
    print(cost_note(settings), flush=True)
    if args.plan:
        for probe in all_probes():
            skipped = probe.enabled(settings)
            print(f"  {probe.name}: {', '.join(probe.rows)}" + (f" ({skipped})" if skipped else ""))
        return 0
    from cortex_tune import Cortex

    try:
        cx = Cortex.connect(args.connection)
    except CortexError as exc:
        print(f"could not connect: {exc}", file=sys.stderr)
        return 1
    with cx:
        report = run(cx, settings, on_record=_progress)
    path = report.write(args.out)
    print(report.text())
    print(f"report written to {path.resolve()} (attach it to a bug report as it is)")
    return 130 if report.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
