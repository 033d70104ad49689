"""Runs: long warehouse work recorded in a runs table, found, awaited and cancelled from anywhere.

``complete_table``, ``evaluate`` and ``compare`` send their statements asynchronously and record
them in the runs table first (:mod:`.store`, :mod:`.send`); a call of the same work while its
statements still run attaches to them (:mod:`.table`, :mod:`.calls`); the runs table is kept
true against Snowflake's status requests and query history (:mod:`.track`); ``cx.runs`` lists,
describes, waits for and cancels runs (:mod:`.resource`, :mod:`.watch`).
"""

from cortex_tune._runs.models import PartStatus, Run, RunPart, RunStatus
from cortex_tune._runs.resource import Runs

__all__ = ["PartStatus", "Run", "RunPart", "RunStatus", "Runs"]
