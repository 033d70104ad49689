"""Statement builders for set-based inference: many prompts per statement, tables in the warehouse.

Re-exported by :mod:`cortex_tune.sql`. Values are bound; table and column names are validated
identifiers; a ``source`` query is SQL by definition and is embedded as a subquery.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cortex_tune._errors import ConfigurationError
from cortex_tune._identifiers import quote_column, validate_name
from cortex_tune._statement import Generation, Param, Statement, dump_json, require_text
from cortex_tune._training_data import normalise_query

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_FLATTEN = "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) f"


@dataclass(frozen=True)
class Template:
    """A prompt assembled from columns in SQL, as the guides do with ``CONCAT``.

    ``{COLUMN}`` places a column; ``{{`` and ``}}`` are literal braces. The literal text is
    bound, never formatted into the SQL.

    Example:
        >>> Template("Classify this ticket: {REQUEST}").render()
        ('CONCAT(?, TO_VARCHAR(REQUEST))', ('Classify this ticket: ',))
    """

    text: str

    def render(self) -> tuple[str, tuple[Param, ...]]:
        """The SQL expression and its bound literal parts."""
        parts: list[str] = []
        params: list[Param] = []
        literal = ""
        pos = 0
        for match in _TOKEN.finditer(self.text):
            literal += self.text[pos : match.start()]
            pos = match.end()
            if match.group(1) is None:  # an escaped brace
                literal += match.group(0)[0]
                continue
            if literal:
                parts.append("?")
                params.append(literal)
                literal = ""
            parts.append(f"TO_VARCHAR({quote_column(match.group(1).strip())})")
        literal += self.text[pos:]
        if literal:
            parts.append("?")
            params.append(literal)
        if all(p == "?" for p in parts):
            raise ConfigurationError(f"template {self.text!r} names no column, e.g. {{BODY}}")
        return f"CONCAT({', '.join(parts)})", tuple(params)


def prompt_expression(prompt: str | Template, *, alias: str = "t") -> tuple[str, tuple[Param, ...]]:
    """A column name or a :class:`Template` as a SQL expression over ``alias``."""
    if isinstance(prompt, Template):
        return prompt.render()
    return f"{alias}.{quote_column(prompt)}", ()


def source_query(source: str) -> str:
    """A table name becomes ``SELECT * FROM name``; anything else is taken as a query."""
    try:
        validate_name(source)
    except ConfigurationError:
        return normalise_query(source)
    return f"SELECT * FROM {source}"  # noqa: S608 - validated identifier


def _function_call(
    generation: Generation,
    prompt_sql: str,
    options: Mapping[str, Any],
    *,
    details: bool,
    messages_sql: str | None = None,
) -> tuple[str, list[Param]]:
    """The COMPLETE call for one row, its placeholders in order (model first)."""
    params = dict(options)
    response_format = params.pop("response_format", None)
    if generation == "legacy":
        if not options and not details and messages_sql is None:
            return f"SNOWFLAKE.CORTEX.TRY_COMPLETE(?, {prompt_sql})", []
        messages = (
            messages_sql
            or f"ARRAY_CONSTRUCT(OBJECT_CONSTRUCT('role', 'user', 'content', {prompt_sql}))"
        )
        return f"SNOWFLAKE.CORTEX.TRY_COMPLETE(?, {messages}, PARSE_JSON(?))", [
            dump_json(dict(options))
        ]
    sql = f"AI_COMPLETE(model => ?, prompt => {prompt_sql}"
    values: list[Param] = []
    if params or response_format is not None or details:
        sql += ", model_parameters => PARSE_JSON(?)"
        values.append(dump_json(params))
    if response_format is not None:
        sql += ", response_format => PARSE_JSON(?)"
        values.append(dump_json(response_format))
    if options or details:
        sql += ", show_details => TRUE"
    return sql + ", return_error_details => TRUE)", values


def complete_batch_sql(
    model: str,
    items_json: str,
    *,
    options: Mapping[str, Any] | None = None,
    functions: Generation = "legacy",
    messages: bool = False,
) -> Statement:
    """COMPLETE over a bound JSON array of ``{"i": index, "p": prompt}`` objects (or
    ``{"i", "m": [messages]}`` with ``messages``), flattened server-side: one statement for
    many prompts, each row answered or failed on its own (TRY_COMPLETE, or AI_COMPLETE with
    error details)."""
    require_text(model, "model")
    opts = dict(options or {})
    call, values = _function_call(
        functions,
        "f.value:p::STRING",
        opts,
        details=False,
        messages_sql="f.value:m" if messages else None,
    )
    sql = f"SELECT f.value:i::INT AS I, {call} AS R {_FLATTEN}"
    return Statement(sql, (model, *values, items_json), "complete_many")


@dataclass(frozen=True)
class TableColumns:
    """SQL expressions that take a table job's raw answer ``R`` apart."""

    response: str
    error: str
    tokens: str


def _table_columns(generation: Generation, structured: bool) -> TableColumns:
    if generation == "legacy":
        body = "TRY_PARSE_JSON(R)"
        text = (
            f"TO_JSON({body}:structured_output[0]:raw_message)"
            if structured
            else f"{body}:choices[0]:messages::STRING"
        )
        return TableColumns(
            text,
            "IFF(R IS NULL, 'TRY_COMPLETE returned NULL', NULL)",
            f"{body}:usage:total_tokens::INT",
        )
    text = (
        "TO_JSON(R:value:structured_output[0]:raw_message)"
        if structured
        else "R:value:choices[0]:messages::STRING"
    )
    return TableColumns(text, "R:error::STRING", "R:value:usage:total_tokens::INT")


def create_results_table_sql(into: str, *, source: str, key: str) -> Statement:
    """Create the results table (if missing) with the key's type: KEY, RESPONSE, ERROR, TOKENS."""
    validate_name(into, what="table name")
    k = quote_column(key)
    sql = (
        f"CREATE TABLE IF NOT EXISTS {into} AS SELECT s.{k} AS {k}, "  # noqa: S608 - validated
        "CAST(NULL AS VARCHAR) AS RESPONSE, CAST(NULL AS VARCHAR) AS ERROR, "
        f"CAST(NULL AS INTEGER) AS TOKENS FROM ({source_query(source)}) s WHERE 1 = 0"
    )
    return Statement(sql, (), "complete_table.create")


def complete_table_sql(
    model: str,
    *,
    source: str,
    into: str,
    key: str,
    prompt: str | Template = "PROMPT",
    options: Mapping[str, Any] | None = None,
    functions: Generation = "ai",
    limit: int | None = None,
) -> Statement:
    """INSERT INTO ``into`` the answers for rows of ``source`` whose key is not there yet.

    The rows are chosen (and limited) first, then COMPLETE runs on just those, so a limit
    bounds the cost. Answers, errors and tokens are taken apart in SQL.
    """
    require_text(model, "model")
    validate_name(into, what="table name")
    k = quote_column(key)
    opts = dict(options or {})
    prompt_sql, prompt_params = prompt_expression(prompt)
    call, values = _function_call(functions, prompt_sql, opts, details=True)
    cols = _table_columns(functions, "response_format" in opts)
    pick = (
        f"SELECT * FROM ({source_query(source)}) s WHERE s.{k} IS NOT NULL "  # noqa: S608
        f"AND s.{k} NOT IN (SELECT {k} FROM {into} WHERE {k} IS NOT NULL) ORDER BY s.{k}"
    )
    params: list[Param] = [model, *prompt_params, *values]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be a positive integer, not {limit!r}")
        pick += " LIMIT ?"
        params.append(limit)
    answered = f"SELECT t.{k} AS {k}, {call} AS R FROM ({pick}) t"  # noqa: S608
    sql = (
        f"INSERT INTO {into} ({k}, RESPONSE, ERROR, TOKENS) "  # noqa: S608
        f"SELECT {k}, {cols.response}, {cols.error}, {cols.tokens} FROM ({answered})"
    )
    return Statement(sql, tuple(params), "complete_table")


def table_summary_sql(into: str) -> Statement:
    """Rows, failed rows and tokens so far in a results table."""
    validate_name(into, what="table name")
    sql = f"SELECT COUNT(*), COUNT(ERROR), COALESCE(SUM(TOKENS), 0) FROM {into}"  # noqa: S608
    return Statement(sql, (), "complete_table.summary")


def read_table_sql(into: str, *, key: str | None = None) -> Statement:
    """Every row of a results table (ordered by ``key`` when given)."""
    validate_name(into, what="table name")
    sql = f"SELECT * FROM {into}"  # noqa: S608
    if key is not None:
        sql += f" ORDER BY {quote_column(key)}"
    return Statement(sql, (), "read_table")


def delete_failed_sql(into: str) -> Statement:
    """Remove failed rows so a re-run answers them again."""
    validate_name(into, what="table name")
    return Statement(f"DELETE FROM {into} WHERE ERROR IS NOT NULL", (), "complete_table.retry")  # noqa: S608
