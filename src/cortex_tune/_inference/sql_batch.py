"""Statement builders for set-based inference: many prompts per statement, tables in the warehouse.

Re-exported by :mod:`cortex_tune.sql`. Values are bound; table and column names are validated
identifiers; a ``source`` query is SQL by definition and is embedded as a subquery.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.identifiers import quote_column, validate_name
from cortex_tune._core.statement import Generation, Param, Statement, dump_json, require_text
from cortex_tune._finetune.training_data import normalise_query

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
    messages_sql: str | None = None,
) -> tuple[str, list[Param]]:
    """The COMPLETE call for one row and its placeholders in order (model first).

    Every form asks for Cortex's detailed answer, the one that carries ``usage`` (it costs
    nothing more: Cortex bills the tokens processed): legacy TRY_COMPLETE with an array of
    messages and an options object, AI_COMPLETE with ``show_details``. Failures stay per row
    (TRY_COMPLETE's NULL, AI_COMPLETE's ``return_error_details``).
    """
    params = dict(options)
    response_format = params.pop("response_format", None)
    if generation == "legacy":
        messages = (
            messages_sql
            or f"ARRAY_CONSTRUCT(OBJECT_CONSTRUCT('role', 'user', 'content', {prompt_sql}))"
        )
        return f"SNOWFLAKE.CORTEX.TRY_COMPLETE(?, {messages}, PARSE_JSON(?))", [
            dump_json(dict(options))
        ]
    sql = f"AI_COMPLETE(model => ?, prompt => {prompt_sql}, model_parameters => PARSE_JSON(?)"
    values: list[Param] = [dump_json(params)]
    if response_format is not None:
        sql += ", response_format => PARSE_JSON(?)"
        values.append(dump_json(response_format))
    return sql + ", show_details => TRUE, return_error_details => TRUE)", values


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
    many prompts, each row answered (with usage) or failed on its own (TRY_COMPLETE, or
    AI_COMPLETE with error details)."""
    require_text(model, "model")
    call, values = _function_call(
        functions,
        "f.value:p::STRING",
        dict(options or {}),
        messages_sql="f.value:m" if messages else None,
    )
    sql = f"SELECT f.value:i::INT AS I, {call} AS R {_FLATTEN}"
    return Statement(sql, (model, *values, items_json), "complete_many")


#: The ERROR of a row whose answer could not be read although Cortex reported no error.
NO_ANSWER = (
    "Cortex returned no answer cortex-tune can read (no choices[0].messages, no "
    "structured_output[0].raw_message, no structured object) and no error"
)
_TRY_NULL = "TRY_COMPLETE returned NULL: the row failed (the legacy function gives no reason)"


def read_answers(
    generation: Generation, *, structured: bool, inner: str, keep: str, prompt: str
) -> str:
    """A query of ``keep``, RESPONSE, ERROR and TOKENS over ``inner``, a query of ``keep``,
    the prompt column ``prompt`` and ``CT_R``, the raw answer of :func:`_function_call`.

    Every documented shape of the answer is read:

    - legacy: JSON text with ``choices[0].messages``, or with a ``response_format`` either
      ``structured_output[0].raw_message`` (beside ``usage``) or the bare object adhering to
      the schema (the COMPLETE reference's shape, without usage);
    - AI: ``{value, error}`` whose ``value`` is the detailed answer as an OBJECT or as JSON
      text (the reference does not say which): text is parsed, read with ``AS_VARCHAR``.

    A row without a readable answer is a failed row: ERROR says why, never NULL. TOKENS is
    Cortex's ``usage.total_tokens``; when the answer carries no usage (the bare structured
    shape), it is an estimate of prompt and answer at four characters a token, so that a token
    budget still counts the row. The raw answer is parsed in outer queries over the column
    ``CT_R``, so the function runs once per row.
    """
    if generation == "legacy":
        answer = "TRY_PARSE_JSON(CT_R)"
        error = f"IFF(CT_R IS NULL, '{_TRY_NULL}', NULL)"
    else:
        # AS_VARCHAR is the string inside a VARIANT, or NULL when it holds an OBJECT ("If the
        # type of the value in the variant_expr argument doesn't match the type of the output
        # value, the function returns NULL."); casting an OBJECT to STRING is not documented.
        answer = "COALESCE(TRY_PARSE_JSON(AS_VARCHAR(CT_R:value)), CT_R:value)"
        error = "COALESCE(CT_R:error::STRING, IFF(CT_R IS NULL, 'AI_COMPLETE returned NULL', NULL))"
    text = "CT_V:choices[0]:messages"
    response = f"{text}::STRING"
    if structured:
        # [{"raw_message": ...}] as every example shows, or "A json object" as the text says.
        wrapped = (
            "COALESCE(CT_V:structured_output[0]:raw_message, "
            "IFF(CT_V:structured_output[0] IS NULL, CT_V:structured_output, NULL))"
        )
        response = (
            f"IFF({wrapped} IS NOT NULL, TO_JSON({wrapped}), "
            f"IFF({text} IS NOT NULL, {text}::STRING, NULLIF(TO_JSON(CT_V), 'null')))"
        )
    # Internal columns are prefixed CT_ so that they cannot meet a user's key column.
    parsed = f"SELECT {keep}, {prompt} AS CT_P, {error} AS CT_E, {answer} AS CT_V FROM ({inner})"  # noqa: S608
    taken = (
        f"SELECT {keep}, CT_P, CT_E, IFF(CT_E IS NULL, {response}, NULL) AS RESPONSE, "  # noqa: S608
        f"CT_V:usage:total_tokens::INT AS CT_U FROM ({parsed})"
    )
    estimate = "CEIL((LENGTH(CT_P) + LENGTH(RESPONSE)) / 4)"
    return (
        f"SELECT {keep}, RESPONSE, COALESCE(CT_E, IFF(RESPONSE IS NULL, '{NO_ANSWER}', NULL)) "  # noqa: S608
        f"AS ERROR, CAST(COALESCE(CT_U, IFF(RESPONSE IS NULL, NULL, {estimate})) AS INTEGER) "
        f"AS TOKENS FROM ({taken})"
    )


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
    where: tuple[str, tuple[Param, ...]] = ("", ()),
) -> Statement:
    """INSERT INTO ``into`` the answers for rows of ``source`` whose key is not there yet.

    The rows are chosen (and limited) first, then COMPLETE runs on just those, so a limit
    bounds the cost. Answers, errors and tokens are taken apart in SQL (:func:`read_answers`).
    ``where`` narrows the rows chosen further: a condition over the source row ``s`` (a key
    partition, the run's claim) and its bound values.
    """
    require_text(model, "model")
    validate_name(into, what="table name")
    k = quote_column(key)
    opts = dict(options or {})
    prompt_sql, prompt_params = prompt_expression(prompt)
    call, values = _function_call(functions, "u.CT_PROMPT", opts)
    narrow, narrow_params = where
    pick = (
        f"SELECT * FROM ({source_query(source)}) s WHERE s.{k} IS NOT NULL "  # noqa: S608
        f"AND s.{k} NOT IN (SELECT {k} FROM {into} WHERE {k} IS NOT NULL)"
        f"{f' AND {narrow}' if narrow else ''} ORDER BY s.{k}"
    )
    params: list[Param] = [model, *values, *prompt_params, *narrow_params]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be a positive integer, not {limit!r}")
        pick += " LIMIT ?"
        params.append(limit)
    prompted = f"SELECT t.{k} AS {k}, {prompt_sql} AS CT_PROMPT FROM ({pick}) t"  # noqa: S608
    answered = f"SELECT u.{k} AS {k}, u.CT_PROMPT AS CT_PROMPT, {call} AS CT_R FROM ({prompted}) u"  # noqa: S608
    read = read_answers(
        functions, structured="response_format" in opts, inner=answered, keep=k, prompt="CT_PROMPT"
    )
    sql = (
        f"INSERT INTO {into} ({k}, RESPONSE, ERROR, TOKENS) "  # noqa: S608
        f"SELECT {k}, RESPONSE, ERROR, TOKENS FROM ({read})"
    )
    return Statement(sql, tuple(params), "complete_table")


def remaining_keys_sql(
    *, source: str, into: str, key: str, lanes: tuple[str, tuple[Param, ...]] | None = None
) -> Statement:
    """How many rows of ``source`` have a key not yet in ``into``: in all, or per lane when
    ``lanes`` gives an expression over the source row ``s`` (and its values) naming each
    row's lane (rows ``LANE, COUNT``)."""
    validate_name(into, what="table name")
    k = quote_column(key)
    pick = (
        f"FROM ({source_query(source)}) s WHERE s.{k} IS NOT NULL "  # noqa: S608
        f"AND s.{k} NOT IN (SELECT {k} FROM {into} WHERE {k} IS NOT NULL)"
    )
    if lanes is None:
        return Statement(f"SELECT COUNT(*) {pick}", (), "complete_table.count")
    expression, params = lanes
    sql = f"SELECT {expression} AS LANE, COUNT(*) {pick} GROUP BY 1"
    return Statement(sql, params, "complete_table.count")


def table_summary_sql(into: str) -> Statement:
    """Rows, failed rows and tokens so far in a results table.

    A row is failed when it has an ERROR, or no RESPONSE (tables written by earlier versions
    may hold such rows without an error)."""
    validate_name(into, what="table name")
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(IFF(ERROR IS NOT NULL OR RESPONSE IS NULL, 1, 0)), 0), "  # noqa: S608
        f"COALESCE(SUM(TOKENS), 0) FROM {into}"
    )
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
    sql = f"DELETE FROM {into} WHERE ERROR IS NOT NULL OR RESPONSE IS NULL"  # noqa: S608
    return Statement(sql, (), "complete_table.retry")
