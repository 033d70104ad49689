"""Statement builders for the preflight check (``cx.finetune.check``), and their results' layout.

A check runs one ``columns_sql`` per query, then one ``stats_sql`` for all of them, however
many rows they return: every count is aggregated in the warehouse. Training and validation
queries are SQL by definition, so they are embedded as subqueries, as Cortex embeds them
(``SELECT "PROMPT", "COMPLETION" FROM (<query>)``); every other value is bound. Every
statement carries the op ``"preflight"``, so tracers, logs and backends can tell them apart.

Example:
    >>> columns_sql("SELECT body AS prompt, reply AS completion FROM train;").sql
    'SELECT * FROM (SELECT body AS prompt, reply AS completion FROM train) LIMIT 0'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from cortex_tune._core.constants import CHARS_PER_TOKEN
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.parsing import load_json
from cortex_tune._core.rules import (
    SAMPLE_CHARS,
    SAMPLE_ROWS,
    BaseModelSpec,
    DataKind,
    DataStats,
)
from cortex_tune._core.statement import Param
from cortex_tune._finetune.training_data import TrainingData
from cortex_tune.sql import Statement, training_query

PREFLIGHT_OP = "preflight"
#: How tokens are counted: an estimate in SQL, or Cortex's COUNT_TOKENS / AI_COUNT_TOKENS.
TokenCounter: TypeAlias = Literal["estimate", "legacy", "ai"]

# One query's aggregates over its rows grouped by (prompt, completion): n is the group's size,
# p / c its texts (TO_VARCHAR: a column may be a number or a VARIANT), pt / ct their tokens.
# Grouping makes duplicates countable and counts tokens once per distinct pair.
_USABLE = "p IS NOT NULL AND c IS NOT NULL"
_AGGREGATES = (
    ("rows", "SUM(n)"),
    ("usable", f"SUM(IFF({_USABLE}, n, 0))"),
    ("null_prompts", "SUM(IFF(p IS NULL, n, 0))"),
    ("null_completions", "SUM(IFF(c IS NULL, n, 0))"),
    ("empty_prompts", "SUM(IFF(TRIM(p) = '', n, 0))"),
    ("empty_completions", "SUM(IFF(TRIM(c) = '', n, 0))"),
    ("duplicates", f"SUM(IFF({_USABLE}, n - 1, 0))"),
    ("max_prompt_tokens", "MAX(pt)"),
    ("max_completion_tokens", "MAX(ct)"),
    ("long_prompts", "SUM(IFF(pt > prompt_limit, n, 0))"),
    ("long_completions", "SUM(IFF(ct > completion_limit, n, 0))"),
    (
        "input_tokens",
        f"SUM(IFF({_USABLE}, n * (LEAST(pt, prompt_limit) + LEAST(ct, completion_limit)), 0))",
    ),
    # Cortex's counter answers NULL for what it cannot count: such a row is estimated, and said.
    (
        "uncounted",
        "SUM(IFF((p IS NOT NULL AND ptc IS NULL) OR (c IS NOT NULL AND ctc IS NULL), n, 0))",
    ),
    # One value of each column, for its type: the connector returns text as str.
    ("prompt_example", "MIN(prompt_raw)"),
    ("completion_example", "MIN(completion_raw)"),
)
# Example rows per finding code: (code, function, column shown, key; rows with a NULL key are
# not concerned). MIN_BY shows the first rows in order; MAX_BY the worst first.
_SAMPLES = (
    ("null-prompt", "MIN_BY", "c", "IFF(p IS NULL, c, NULL)"),
    ("null-completion", "MIN_BY", "p", "IFF(c IS NULL, p, NULL)"),
    ("empty-prompt", "MIN_BY", "c", "IFF(TRIM(p) = '', c, NULL)"),
    ("empty-completion", "MIN_BY", "p", "IFF(TRIM(c) = '', p, NULL)"),
    ("duplicate-pairs", "MAX_BY", "p", f"IFF({_USABLE} AND n > 1, n, NULL)"),
    ("prompt-too-long", "MAX_BY", "p", "IFF(pt > prompt_limit, pt, NULL)"),
    ("completion-too-long", "MAX_BY", "p", "IFF(ct > completion_limit, ct, NULL)"),
)
#: The columns of one query's part of the ``stats_sql`` row, in order.
STATS_COLUMNS = tuple(name for name, _ in _AGGREGATES) + tuple(code for code, *_ in _SAMPLES)
#: The columns ``stats_sql`` adds after both queries' parts when it checks overlap.
OVERLAP_COLUMNS = ("overlap", "overlap_samples")

# CTE names are visible inside the user's query too: keep them unlikely to shadow a table.
_LIMITS, _PREFIX = "cortex_tune_limits", "cortex_tune_"


def columns_sql(query: str | TrainingData) -> Statement:
    """The columns ``query`` returns, read without fetching a row (``LIMIT 0``).

    The query is normalised as for FINETUNE (trailing ``;`` removed) and embedded as a subquery.
    """
    return Statement(
        f"SELECT * FROM ({training_query(query)}) LIMIT 0",  # noqa: S608 - a query by definition
        (),
        PREFLIGHT_OP,
    )


def stats_sql(
    sources: Sequence[tuple[DataKind, str | TrainingData]],
    *,
    base_model: str,
    spec: BaseModelSpec | None,
    tokens: TokenCounter = "estimate",
) -> Statement:
    """One statement aggregating every query in ``sources``: one row, whatever the row count.

    The row holds, for each source in order, the :data:`STATS_COLUMNS` (counts, token maxima,
    tokens within the allotments, one value per column, and up to three example rows per
    finding as arrays), then with two sources the :data:`OVERLAP_COLUMNS` (distinct prompts
    present in both, and examples).

    Args:
        sources: ``("training" | "validation", query)`` pairs, one or two.
        base_model: The base model, for counting tokens with Cortex.
        spec: Its limits; None (an unknown model) binds NULL limits, so no row exceeds them.
        tokens: ``"estimate"`` (about four characters a token, free), or count with
            ``SNOWFLAKE.CORTEX.COUNT_TOKENS`` (``"legacy"``) / ``AI_COUNT_TOKENS`` (``"ai"``),
            once per distinct pair, which is billed compute.
    """
    if not 1 <= len(sources) <= 2 or len({kind for kind, _ in sources}) != len(sources):
        raise ConfigurationError("stats_sql takes a training and/or a validation query")
    params: list[Param] = [
        CHARS_PER_TOKEN,
        spec.prompt_tokens if spec else None,
        spec.completion_tokens if spec else None,
        SAMPLE_CHARS + 1,  # one character more tells a shortened example from a short one
    ]
    ctes = [
        # Typed casts: some drivers bind every value as text.
        f"{_LIMITS} AS (SELECT CAST(? AS FLOAT) AS chars_per_token, "
        "CAST(? AS INTEGER) AS prompt_limit, CAST(? AS INTEGER) AS completion_limit, "
        "CAST(? AS INTEGER) AS sample_chars)"
    ]
    parts = []
    for kind, query in sources:
        ctes.append(
            f'{_PREFIX}{kind} AS (SELECT "PROMPT" AS prompt_raw, "COMPLETION" AS completion_raw '  # noqa: S608
            f"FROM ({training_query(query)}))"
        )
        parts.append(f"({_aggregate(kind, tokens)}) AS {kind[0]}")
        params.extend([base_model, base_model] if tokens != "estimate" else [])
    if len(sources) == 2:
        parts.append(f"({_overlap()}) AS o")
    sql = f"WITH {', '.join(ctes)} SELECT * FROM {' CROSS JOIN '.join(parts)}"  # noqa: S608
    return Statement(sql, tuple(params), PREFLIGHT_OP)


def _aggregate(kind: DataKind, tokens: TokenCounter) -> str:
    alias = kind[0]
    selects = [f"{expr} AS {alias}_{name}" for name, expr in _AGGREGATES]
    selects += [
        f"{fn}(LEFT({shown}, sample_chars), {key}, {SAMPLE_ROWS}) AS {alias}_{code.replace('-', '_')}"
        for code, fn, shown, key in _SAMPLES
    ]
    grouped = (
        "SELECT prompt_raw, completion_raw, TO_VARCHAR(prompt_raw) AS p, "  # noqa: S608
        f"TO_VARCHAR(completion_raw) AS c, COUNT(*) AS n FROM {_PREFIX}{kind} "
        "GROUP BY prompt_raw, completion_raw"
    )
    counted = (
        "SELECT g.*, k.prompt_limit, k.completion_limit, k.sample_chars, k.chars_per_token, "  # noqa: S608
        f"{_tokens('g.p', tokens)} AS ptc, {_tokens('g.c', tokens)} AS ctc "
        f"FROM ({grouped}) AS g CROSS JOIN {_LIMITS} AS k"
    )
    measured = (
        f"SELECT m.*, COALESCE(ptc, {_estimate('m.p')}) AS pt, "  # noqa: S608
        f"COALESCE(ctc, {_estimate('m.c')}) AS ct FROM ({counted}) AS m"
    )
    return f"SELECT {', '.join(selects)} FROM ({measured})"  # noqa: S608


def _estimate(column: str) -> str:
    return f"CEIL(LENGTH({column}) / chars_per_token)"


def _tokens(column: str, tokens: TokenCounter) -> str:
    if tokens == "estimate":
        return _estimate(column)
    # Cortex's counters take text only: NULLs are left out rather than sent.
    function = (
        "SNOWFLAKE.CORTEX.COUNT_TOKENS(?, {})"
        if tokens == "legacy"
        else "AI_COUNT_TOKENS('ai_complete', ?, {})"
    )
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {function.format(column)} END"


def _overlap() -> str:
    return (
        "SELECT COUNT(*) AS o_overlap, "  # noqa: S608
        f"MIN_BY(LEFT(TO_VARCHAR(a.p), k.sample_chars), a.p, {SAMPLE_ROWS}) AS o_overlap_samples "
        f"FROM (SELECT DISTINCT prompt_raw AS p FROM {_PREFIX}training "
        "WHERE prompt_raw IS NOT NULL) AS a INNER JOIN (SELECT DISTINCT prompt_raw AS p "
        f"FROM {_PREFIX}validation) AS b ON a.p = b.p CROSS JOIN {_LIMITS} AS k"
    )


# -- reading the row stats_sql returns -----------------------------------------------------------

#: What one query's part of the row says: its numbers, and example rows per finding code.
SourceStats: TypeAlias = "tuple[DataStats, dict[str, list[str]]]"


def read_stats(
    row: Sequence[Any], kinds: Sequence[DataKind]
) -> tuple[dict[DataKind, SourceStats], tuple[int, list[str]] | None]:
    """Split the row of :func:`stats_sql` into each query's stats, and the overlap if any.

    Example:
        >>> row = [3, 3, 0, 0, 0, 0, 1, 5, 2, 0, 0, 21, 0, "a", "b"] + [None] * 4 + ['["hi"]'] + [None] * 2
        >>> read_stats(row, ["training"])[0]["training"][1]["duplicate-pairs"]
        ['hi']
    """
    width = len(STATS_COLUMNS)
    parts = {kind: _source(row[i * width : (i + 1) * width]) for i, kind in enumerate(kinds)}
    if len(kinds) < 2:
        return parts, None
    count, samples = row[-len(OVERLAP_COLUMNS) :]
    return parts, (_int(count), _samples(samples))


def _source(values: Sequence[Any]) -> SourceStats:
    named = dict(zip(STATS_COLUMNS, values, strict=True))
    numbers = {k: _int(v) for k, v in named.items() if k in DataStats.model_fields}
    stats = DataStats(
        **numbers,
        prompt_is_text=_is_text(named["prompt_example"]),
        completion_is_text=_is_text(named["completion_example"]),
    )
    return stats, {code: _samples(named[code]) for code, *_ in _SAMPLES}


def _int(value: Any) -> int:
    # Snowflake returns NUMBER as int or Decimal, DuckDB sums as float; NULL for no rows.
    return 0 if value is None else int(value)


def _is_text(value: Any) -> bool:
    # The connector returns text (and VARIANT, as JSON text) as str; numbers and dates not.
    return value is None or isinstance(value, str)


def _samples(value: Any) -> list[str]:
    # An ARRAY arrives as JSON text from Snowflake and as a list from the emulator.
    items = [] if value is None else load_json(value, what="preflight samples")
    return [_shorten(str(item)) for item in items if item is not None]


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SAMPLE_CHARS else flat[: SAMPLE_CHARS - 1] + "…"
