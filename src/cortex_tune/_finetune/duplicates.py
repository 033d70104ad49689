"""The safety net for a CREATE the connector sent twice: cancel the job that repeats it.

A connector that re-sends a query whose answer it lost (5.x cannot be told not to) may send
CREATE twice under one request id. Snowflake answers such a resubmit from the first run; a
server that ran it again started a second, billed job with the same request marker.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from cortex_tune._core.errors import CortexError
from cortex_tune._core.models import FineTuneJob

if TYPE_CHECKING:
    from cortex_tune._finetune.jobs import FineTune

log = logging.getLogger("cortex_tune")

#: A job the re-sent CREATE started lies within the call's duration of the job CREATE
#: answered (both times are the server's); this much more covers rounding.
DUPLICATE_SLACK = dt.timedelta(minutes=1)


def cancel_duplicates(finetune: FineTune, marker: str, keep: FineTuneJob, *, within: float) -> None:
    """Cancel every job but ``keep`` that carries ``marker``, with a warning each.

    Only jobs created within ``within`` seconds (the call's duration) of ``keep`` are
    described: one SHOW, and usually no DESCRIBE at all.
    """
    try:
        jobs = [j for j in finetune.list() if j.id != keep.id]
        if keep.created_on is not None:
            slack = dt.timedelta(seconds=max(within, 0.0)) + DUPLICATE_SLACK
            jobs = [
                j
                for j in jobs
                if j.created_on is None or abs(j.created_on - keep.created_on) <= slack
            ]
        duplicates = finetune._carrying(marker, jobs)
    except CortexError as exc:
        log.warning(
            "created job %s, but could not check that the connector did not start a second "
            "one (%s); cx.finetune.find_by_marker(%r) lists every job this call started",
            keep.id,
            exc.message,
            marker,
        )
        return
    for job in duplicates:
        cancel_duplicate(finetune, job, keep, marker)


def cancel_duplicate(finetune: FineTune, job: FineTuneJob, keep: FineTuneJob, marker: str) -> None:
    """Cancel ``job``, which repeats ``keep`` (same request marker), and say so."""
    try:
        finetune.cancel(job.id)
    except CortexError as exc:
        log.warning(
            "job %s repeats job %s (request marker %s: CREATE ran twice) and could not be "
            "cancelled (%s); cancel it with cx.finetune.cancel(%r)",
            job.id,
            keep.id,
            marker,
            exc.message,
            job.id,
        )
        return
    log.warning(
        "cancelled job %s: it repeats job %s (request marker %s), started when CREATE was "
        "sent again after its answer was lost",
        job.id,
        keep.id,
        marker,
    )
