"""How a complete_table run splits its keys: the work's identity, its lanes, their statements.

A run answers the rows of ``source`` whose key is not yet in ``into``. A large table is split
into *lanes*, disjoint sets of keys, each answered by its own statement, so that the statements
run concurrently (on a multi-cluster warehouse, on several clusters). Keys are assigned by a
deterministic hash of the key (``MOD(ABS(HASH(key)), buckets)``; Snowflake documents its hash
functions as deterministic), so every statement of a run, and every client that attaches to
it, agrees on which lane a key belongs to whatever the key's type, and two lanes never share a
key. A run of many rows also has a *probe*: bucket 0, about half a percent of a lane's rows (5
to 100), a lane of its own that ends early and times the rest, so that waiting knows when to
look again.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from cortex_tune._core.constants import (
    PARALLEL_DEFAULT,
    PARALLEL_MAX,
    PROBE_ROWS,
    PROBE_ROWS_MIN,
    PROBE_RUN_ROWS,
    PROBE_SHARE,
    SPLIT_ROWS,
)
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.identifiers import quote_column
from cortex_tune._core.statement import Generation, Param
from cortex_tune._inference.sql_batch import Template

#: The lane of the probe bucket.
PROBE = -1


def new_run_id() -> str:
    """A fresh run id."""
    return f"run_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class TableWork:
    """What a complete_table run computes: the same work, whoever starts it, has the same id."""

    model: str
    source: str
    into: str
    key: str
    prompt: str | Template
    options: dict[str, Any]
    generation: Generation

    def parameters(self) -> dict[str, Any]:
        """The parameters, as recorded in the runs table."""
        prompt = (
            {"template": self.prompt.text} if isinstance(self.prompt, Template) else self.prompt
        )
        return {
            "model": self.model,
            "source": self.source,
            "key": self.key,
            "prompt": prompt,
            "options": self.options,
            "functions": self.generation,
        }

    @property
    def id(self) -> str:
        """A digest of kind, target and parameters."""
        return work_id("complete_table", self.into, self.parameters())


def work_id(kind: str, target: str, parameters: dict[str, Any]) -> str:
    """The identity of a work: a digest of what it computes (not of how it is split)."""
    text = json.dumps([kind, target.upper(), parameters], sort_keys=True, default=str)
    return "w" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Plan:
    """How a run is split.

    Attributes:
        lanes: Key partitions answered by concurrent statements (besides the probe).
        buckets: Hash buckets the keys fall in (0: the run is not split).
        probe: Whether bucket 0 is a lane of its own, the probe.
        rows_todo: Rows the run had to answer when it was planned (after ``limit``).
        base: Rows, failed rows and tokens in the results table when the run started.
        expected: Rows each lane had to answer when it was planned, by lane.
    """

    lanes: int = 1
    buckets: int = 0
    probe: bool = False
    rows_todo: int = 0
    base: tuple[int, int, int] = (0, 0, 0)
    expected: dict[int, int] = field(default_factory=dict)

    def lane_ids(self) -> list[int]:
        """Every lane, the probe first."""
        return ([PROBE] if self.probe else []) + list(range(self.lanes))

    def condition(self, lane: int, key: str) -> tuple[str, tuple[Param, ...]]:
        """The condition over the source row ``s`` that picks the keys of ``lane``."""
        if self.buckets == 0:
            return "", ()
        bucket = f"MOD(ABS(HASH(s.{quote_column(key)})), ?)"
        if not self.probe:
            return f"{bucket} = ?", (self.buckets, lane)
        if lane == PROBE:
            return f"{bucket} = 0", (self.buckets,)
        return f"{bucket} <> 0 AND MOD({bucket}, ?) = ?", (
            self.buckets,
            self.buckets,
            self.lanes,
            lane,
        )

    def lane_of(self, key: str) -> tuple[str, tuple[Param, ...]]:
        """An expression over the source row ``s`` naming the lane of its key."""
        bucket = f"MOD(ABS(HASH(s.{quote_column(key)})), ?)"
        if self.buckets == 0:
            return "0", ()
        if not self.probe:
            return bucket, (self.buckets,)
        return f"IFF({bucket} = 0, {PROBE}, MOD({bucket}, ?))", (
            self.buckets,
            self.buckets,
            self.lanes,
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan as recorded in the runs table."""
        return {
            "lanes": self.lanes,
            "buckets": self.buckets,
            "probe": self.probe,
            "rows_todo": self.rows_todo,
            "base": list(self.base),
            "expected": {str(k): v for k, v in self.expected.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """A plan read back from the runs table (missing fields take their defaults)."""
        base = [*list(data.get("base") or [0, 0, 0])[:3], 0, 0, 0]
        expected = {int(k): int(v) for k, v in dict(data.get("expected") or {}).items()}
        return cls(
            lanes=max(1, int(data.get("lanes") or 1)),
            buckets=max(0, int(data.get("buckets") or 0)),
            probe=bool(data.get("probe")),
            rows_todo=int(data.get("rows_todo") or 0),
            base=(int(base[0]), int(base[1]), int(base[2])),
            expected=expected,
        )


def lanes_for(rows_todo: int, parallel: int | None) -> int:
    """How many lanes a run of ``rows_todo`` rows gets: ``parallel`` when given, else one below
    SPLIT_ROWS rows and PARALLEL_DEFAULT above; never more lanes than rows."""
    if parallel is None:
        lanes = 1 if rows_todo < SPLIT_ROWS else PARALLEL_DEFAULT
    else:
        if isinstance(parallel, bool) or not isinstance(parallel, int):
            raise ConfigurationError(f"parallel must be an integer, not {parallel!r}")
        if not 1 <= parallel <= PARALLEL_MAX:
            raise ConfigurationError(
                f"parallel must be 1 to {PARALLEL_MAX} (a warehouse runs 8 statements at once "
                f"by default and queues the rest), not {parallel}"
            )
        lanes = parallel
    return max(1, min(lanes, rows_todo))


def make_plan(rows_todo: int, parallel: int | None, base: tuple[int, int, int]) -> Plan:
    """A plan for ``rows_todo`` rows (lanes, buckets, probe); ``expected`` is filled later."""
    lanes = lanes_for(rows_todo, parallel)
    probe = rows_todo >= PROBE_RUN_ROWS
    probe_rows = min(PROBE_ROWS, max(PROBE_ROWS_MIN, rows_todo // (PROBE_SHARE * lanes)))
    buckets = max(lanes + 1, rows_todo // probe_rows) if probe else lanes if lanes > 1 else 0
    return Plan(lanes=lanes, buckets=buckets, probe=probe, rows_todo=rows_todo, base=base)


def shares(counts: dict[int, int], limit: int | None) -> dict[int, int]:
    """Rows each lane may answer: all of its rows, or, under ``limit``, shares proportional to
    its rows that add up to the limit (never more than a lane has)."""
    total = sum(counts.values())
    if limit is None or limit >= total:
        return dict(counts)
    exact = {lane: limit * n / total for lane, n in counts.items()}
    given = {lane: min(counts[lane], math.floor(x)) for lane, x in exact.items()}
    left = limit - sum(given.values())
    for lane in sorted(exact, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True):
        if left <= 0:
            break
        if given[lane] < counts[lane]:
            given[lane] += 1
            left -= 1
    return given
