"""The conformance report: one record per probe, the contract rows they settle, JSON and text.

The JSON is versioned (``format`` and ``version``) and its keys are stable: a tool may read it.
It holds statement shapes (SQL text with ``?`` placeholders), answer skeletons (keys and types),
error classes and codes, and what each probe observed for the contract rows it names. It never
holds a bound value, a prompt, an answer or a secret (see :func:`shape.scrub`).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cortex_tune._conformance.shape import scrub
from cortex_tune._version import __version__

FORMAT = "cortex-tune-conformance"
VERSION = 1

#: ok: the statement answered; failed: it raised (the error is recorded); error: the probe
#: itself broke (a cortex-tune bug: only the exception class is kept); skipped: not run.
Status = Literal["ok", "failed", "error", "skipped"]


@dataclass
class ProbeRecord:
    """What one probe ran and saw. Every field is free of values by construction."""

    name: str
    rows: tuple[str, ...]
    shape: str
    billed: int
    status: Status = "skipped"
    error: dict[str, Any] | None = None
    query_id: str | None = None
    answer: dict[str, Any] | None = None
    observed: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record with stable keys."""
        return {
            "name": self.name,
            "rows": list(self.rows),
            "shape": self.shape,
            "billed_calls": self.billed,
            "status": self.status,
            "error": self.error,
            "query_id": self.query_id,
            "answer": self.answer,
            "observed": dict(sorted(self.observed.items())),
            "facts": self.facts,
            "note": self.note,
        }


@dataclass
class Report:
    """Every probe record of one run, and where it ran."""

    target: dict[str, Any]
    settings: dict[str, Any]
    records: list[ProbeRecord] = field(default_factory=list)
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    sensitive: tuple[str, ...] = ()
    interrupted: bool = False

    def rows(self) -> dict[str, dict[str, Any]]:
        """Each contract row named by a probe: ``settled`` (something was observed for it),
        ``exercised`` (its probe ran, nothing specific was seen), ``failed`` or ``not run``."""
        out: dict[str, dict[str, Any]] = {}
        for record in self.records:
            for row in record.rows:
                entry = out.setdefault(row, {"status": "not run", "observed": [], "probes": []})
                entry["probes"].append(record.name)
                if row in record.observed:
                    entry["observed"].append(f"{record.observed[row]} ({record.name})")
                entry["status"] = _row_status(entry["status"], record, row)
        return dict(sorted(out.items(), key=lambda kv: _row_key(kv[0])))

    def counts(self) -> dict[str, int]:
        """How many probes ended in each status, and the billed calls of those that ran."""
        counts: dict[str, int] = {s: sum(r.status == s for r in self.records) for s in _STATUSES}
        counts["billed_calls"] = sum(r.billed for r in self.records if r.status != "skipped")
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The whole report with stable keys, scrubbed of every sensitive string."""
        data = {
            "format": FORMAT,
            "version": VERSION,
            "created": self.created.isoformat(timespec="seconds"),
            "cortex_tune": __version__,
            "python": platform.python_version(),
            "target": self.target,
            "settings": self.settings,
            "interrupted": self.interrupted,
            "summary": self.counts(),
            "probes": [r.to_dict() for r in self.records],
            "rows": self.rows(),
        }
        scrubbed: dict[str, Any] = scrub(data, self.sensitive)
        return scrubbed

    def to_json(self) -> str:
        """The report as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the JSON report to ``path`` and return it."""
        target = Path(path)
        target.write_text(self.to_json(), encoding="utf-8")
        return target

    def text(self) -> str:
        """A short text summary: one line per probe, then the rows settled and not settled."""
        data = self.to_dict()
        lines = [f"cortex-tune {data['cortex_tune']} conformance report, {data['created']}"]
        lines.append(f"target: {_target_line(data['target'])}")
        for probe in data["probes"]:
            lines.append(_probe_line(probe))
        for status in ("settled", "exercised", "failed", "not run"):
            rows = [k for k, v in data["rows"].items() if v["status"] == status]
            if rows or status == "settled":
                lines.append(f"rows {status} ({len(rows)}): {', '.join(rows) or 'none'}")
        c = data["summary"]
        lines.append(
            f"{len(data['probes'])} probes: {c['ok']} ok, {c['failed']} failed, "
            f"{c['error']} broken, {c['skipped']} skipped; {c['billed_calls']} billed calls"
        )
        return "\n".join(lines)


_STATUSES: tuple[Status, ...] = ("ok", "failed", "error", "skipped")
_MARKS = {"ok": "  ok  ", "failed": "FAILED", "error": "BROKEN", "skipped": " skip "}


def _row_status(current: str, record: ProbeRecord, row: str) -> str:
    """settled > exercised (ran, nothing specific seen) > failed > not run."""
    if row in record.observed:
        return "settled"
    rank = ["not run", "failed", "exercised", "settled"]
    mine = {"ok": "exercised", "failed": "failed", "error": "failed"}.get(record.status, "not run")
    return max(current, mine, key=rank.index)


def _row_key(row: str) -> tuple[str, int, str]:
    prefix, _, number = row.rpartition("-")
    return (prefix, int(number) if number.isdigit() else 0, row)


def _target_line(target: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in target.items() if v is not None)


def _probe_line(probe: dict[str, Any]) -> str:
    line = f"[{_MARKS[probe['status']]}] {probe['name']}"
    error = probe.get("error")
    if error:
        codes = " ".join(f"{k}={error[k]}" for k in ("errno", "sqlstate") if error.get(k))
        line += f": {error['class']} {codes}".rstrip()
    observed = probe.get("observed") or {}
    if observed:
        line += " | " + "; ".join(f"{row}: {text}" for row, text in observed.items())
    elif probe.get("note"):
        line += f" | {probe['note']}"
    return line
