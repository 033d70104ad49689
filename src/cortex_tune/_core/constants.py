"""Named defaults, in one place, so every default has a name and a reason."""

from __future__ import annotations

from typing import Final

from cortex_tune._version import __version__

#: Tag set on every session cortex-tune opens, so usage is attributable in QUERY_HISTORY.
QUERY_TAG: Final = f"cortex-tune/{__version__}"

#: Seconds one request to Snowflake may take before the connector abandons that attempt.
ATTEMPT_TIMEOUT: Final = 60.0
#: Seconds the connector may spend logging in.
LOGIN_TIMEOUT: Final = 60.0

#: Total seconds cortex-tune spends retrying one statement that failed transiently.
RETRY_BUDGET: Final = 120.0
#: Attempts per statement, the first included.
RETRY_ATTEMPTS: Final = 6
#: First backoff delay in seconds; it doubles each attempt, up to RETRY_MAX_DELAY, with full jitter.
RETRY_BASE_DELAY: Final = 1.0
RETRY_MAX_DELAY: Final = 20.0

#: wait(): the shortest pause between two DESCRIBE statements, in seconds.
POLL_MIN: Final = 5.0
#: wait(): a pause never exceeds this fraction of the time already waited (unless POLL_MIN is larger).
POLL_FRACTION: Final = 0.05
#: wait(): the longest pause between two DESCRIBE statements, in seconds.
POLL_MAX: Final = 1800.0

#: Prefix of the request marker carried inside every training query cortex-tune creates a job with.
MARKER_PREFIX: Final = "cortex-tune:req="

#: Most bytes of one statement, its SQL text and bound values together (UTF-8): Snowflake
#: recommends keeping a statement under 1 MB, binds included, and truncates larger ones before
#: recording them, so they cannot be retried or found again in the query history.
STATEMENT_BYTES: Final = 1_000_000
#: Seconds cortex-tune waits for a statement that lost its answer but is still running in
#: Snowflake before saying it may have run (it is never sent again meanwhile).
RECONCILE_WAIT: Final = 900.0

#: Roughly how many characters make one token, for estimates when no tokenizer is asked for.
CHARS_PER_TOKEN: Final = 4.0

#: The table that records runs (long warehouse work), in the session's current schema unless
#: the client is given a qualified name.
RUNS_TABLE: Final = "CORTEX_TUNE_RUNS"
#: complete_table: key partitions run as concurrent statements on a large table. A warehouse
#: runs 8 statements at once by default (MAX_CONCURRENCY_LEVEL) and queues the rest; 4 leaves
#: room for other work on a single-cluster warehouse.
PARALLEL_DEFAULT: Final = 4
#: complete_table: the most concurrent statements one run may have.
PARALLEL_MAX: Final = 32
#: complete_table: tables with fewer rows to answer run as one statement by default.
SPLIT_ROWS: Final = 10_000
#: complete_table: the small statement (the probe) that ends early and times the rest of a run,
#: so that waiting knows when to look again: about 1/PROBE_SHARE of a lane's rows, between
#: PROBE_ROWS_MIN and PROBE_ROWS, for runs of at least PROBE_RUN_ROWS rows.
PROBE_SHARE: Final = 200
PROBE_ROWS_MIN: Final = 5
PROBE_ROWS: Final = 100
PROBE_RUN_ROWS: Final = 1_000
#: Seconds a run's statement may stay claimed without a query id before another client looks
#: for it in its session's query history (and, not finding it, takes it as never sent).
CLAIM_GRACE: Final = 60.0
#: Seconds a recorded query id may stay unknown to Snowflake (NO_DATA) before its session's
#: query history is searched for it.
NO_DATA_GRACE: Final = 30.0
