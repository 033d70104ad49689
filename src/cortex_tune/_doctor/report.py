"""The doctor's report: one line per check, and the verdict (see :mod:`cortex_tune._doctor.checks`)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

#: ok: ready; fail: not ready; unknown: could not tell (see the detail); skip: not applicable.
State = Literal["ok", "fail", "unknown", "skip"]

_MARKS = {"ok": " ok ", "fail": "FAIL", "unknown": " ?? ", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    """One doctor check: what it found, how it went, what it checked, what to do next."""

    name: str
    state: State
    detail: str
    remedy: str | None = None
    checked: str = ""


@dataclass(frozen=True)
class DoctorReport:
    """Every check, in order. ``ok`` is True when none failed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (could-not-tell and skipped checks are not failures)."""
        return all(c.state != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable keys."""
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}

    def summary(self) -> str:
        """One line: ready or not, and how many checks ended in each state."""
        counts = {s: sum(c.state == s for c in self.checks) for s in _MARKS}
        parts = [f"{counts['ok']} ok", f"{counts['fail']} failed"]
        parts += [f"{counts['unknown']} could not tell"] if counts["unknown"] else []
        parts += [f"{counts['skip']} skipped"] if counts["skip"] else []
        verdict = "ready: no check failed" if self.ok else "NOT READY: a check failed"
        return f"{verdict} ({', '.join(parts)})"

    def __str__(self) -> str:
        lines = []
        for c in self.checks:
            lines.append(f"[{_MARKS[c.state]}] {c.name}: {c.detail}")
            if c.checked:
                lines.append(f"       checked: {c.checked}")
            if c.remedy and c.state != "ok":
                lines.append(f"       -> {c.remedy}")
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.state)}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(c.detail)}</td><td>{html.escape(c.remedy or '')}</td></tr>"
            for c in self.checks
        )
        head = "<tr><th></th><th>check</th><th>detail</th><th>remedy</th></tr>"
        return f"<p>{html.escape(self.summary())}</p><table>{head}{rows}</table>"
