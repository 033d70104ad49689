"""Batch inference pushed to the warehouse: many prompts per statement, whole tables in SQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cortex_tune._core.constants import STATEMENT_BYTES
from cortex_tune._core.errors import CortexError, QueryError, ResponseParseError, from_text
from cortex_tune._core.models import Completion
from cortex_tune._core.parsing import load_json, parse_completion
from cortex_tune._core.statement import MARK_BYTES, Generation, dump_json, statement_bytes
from cortex_tune._inference.sql_batch import (
    Template,
    complete_batch_sql,
    complete_table_sql,
    create_results_table_sql,
    delete_failed_sql,
    read_table_sql,
    table_summary_sql,
)
from cortex_tune.sql import PromptInput, to_messages

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: Most bytes of one complete_many statement, SQL text and bound prompts together: Snowflake's
#: guidance for a statement (larger ones are truncated in the query history, so they could not
#: be recovered from their first run after a lost answer).
BATCH_BYTES = STATEMENT_BYTES
#: Most prompts in one statement.
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class BatchResult:
    """One prompt's outcome in a batch: a completion, or the error for that row alone.

    Attributes:
        index: The prompt's position in the input.
        completion: The answer, when the row succeeded.
        error: Why the row failed, when it did.
    """

    index: int
    completion: Completion[Any] | None = None
    error: CortexError | None = None

    @property
    def ok(self) -> bool:
        """True when the row was answered."""
        return self.error is None

    @property
    def text(self) -> str | None:
        """The answer's text, or None for a failed row."""
        return self.completion.text if self.completion is not None else None


def chunks(
    items: Sequence[dict[str, Any]], *, max_bytes: int, max_rows: int
) -> Iterator[list[dict[str, Any]]]:
    """Split items into in-order runs whose compact JSON array fits in ``max_bytes`` bytes
    (UTF-8) and holds at most ``max_rows`` items. Greedy: the fewest such runs. An item larger
    than ``max_bytes`` on its own goes alone."""
    chunk: list[dict[str, Any]] = []
    size = 2
    for item in items:
        item_size = len(dump_json(item).encode("utf-8")) + 1
        if chunk and (size + item_size > max_bytes or len(chunk) >= max_rows):
            yield chunk
            chunk, size = [], 2
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _overhead(model: str, options: dict[str, Any], generation: Generation, messages: bool) -> int:
    """Bytes of one statement besides the prompts: its SQL text, its other bound values
    and its request marker."""
    empty = complete_batch_sql(model, "", options=options, functions=generation, messages=messages)
    return statement_bytes(empty) + MARK_BYTES


def complete_many(
    cx: Cortex,
    model: str,
    prompts: Sequence[PromptInput],
    *,
    options: dict[str, Any],
    response_format: Any,
    max_bytes: int = BATCH_BYTES,
    max_rows: int = BATCH_ROWS,
) -> list[BatchResult]:
    """See :meth:`Cortex.complete_many`."""
    if isinstance(prompts, str):
        raise TypeError("complete_many takes a list of prompts; use complete() for one")
    conversations = any(not isinstance(p, str) for p in prompts)
    # AI_COMPLETE has no documented conversation form: conversations go to legacy COMPLETE.
    generation: Generation = "legacy" if cx._functions == "legacy" or conversations else "ai"
    use_messages = generation == "legacy" and conversations
    items: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompts):
        messages = to_messages(prompt)
        if use_messages:
            items.append({"i": i, "m": [m.model_dump() for m in messages]})
        else:
            items.append({"i": i, "p": prompt if isinstance(prompt, str) else messages[0].content})
    results: dict[int, BatchResult] = {}
    room = max_bytes - _overhead(model, options, generation, use_messages)
    for chunk in chunks(items, max_bytes=room, max_rows=max_rows):
        # PAID: if its answer is lost, the chunk's first run is read back from the query
        # history (RESULT_SCAN), never paid for twice.
        statement = complete_batch_sql(
            model,
            dump_json(chunk),
            options=options,
            functions=generation,
            messages=use_messages,
        )
        for index, value in cx._execute(statement).rows:
            results[int(index)] = _row_result(int(index), value, model, generation, response_format)
    missing = QueryError("no answer came back for this row", op="complete_many")
    return [results.get(i, BatchResult(i, error=missing)) for i in range(len(prompts))]


def _row_result(
    index: int, value: Any, model: str, generation: Generation, response_format: Any
) -> BatchResult:
    """One row of a batch: its detailed answer parsed, or why it failed.

    A row with no answer and no error (TRY_COMPLETE's NULL, an AI_COMPLETE ``value`` that is
    NULL) is a failed row, as is an answer in no shape cortex-tune can read.
    """
    try:
        if generation == "ai":
            data = load_json(value, what="AI_COMPLETE") if value is not None else None
            if not isinstance(data, dict):
                raise ResponseParseError("AI_COMPLETE returned no {value, error} object", raw=value)
            if data.get("error"):
                return BatchResult(index, error=from_text(str(data["error"]), op="complete_many"))
            value = data.get("value")
            if value is None:
                raise QueryError("AI_COMPLETE returned no value and no error: the row failed")
        elif value is None:
            raise QueryError(
                "TRY_COMPLETE returned NULL: the row failed (the legacy function gives no reason)"
            )
        completion = parse_completion(
            value, model=model, detailed=True, response_format=response_format
        )
    except CortexError as exc:
        if exc.op is None:
            exc.op = "complete_many"
        return BatchResult(index, error=exc)
    return BatchResult(index, completion=completion)


@dataclass(frozen=True)
class TableRunSummary:
    """What one :meth:`Cortex.complete_table` run did.

    Attributes:
        into: The results table.
        rows_done: Rows answered by this run (failed ones included).
        rows_failed: Rows of this run that failed (their ERROR column says why).
        tokens: Tokens this run used, as Cortex reported them (``usage.total_tokens``); for
            answers that carry no usage (structured output in the bare shape), an estimate at
            four characters a token of prompt and answer.
        statements: Statements this run issued.
        stopped: Why it stopped: ``"done"``, ``"limit"`` or ``"token_budget"``.
        run_id: The run in the runs table (``cx.runs.describe(run_id)``), when recorded.
    """

    into: str
    rows_done: int
    rows_failed: int
    tokens: int
    statements: int
    stopped: str
    run_id: str | None = None


def complete_table(
    cx: Cortex,
    model: str,
    *,
    source: str,
    into: str,
    key: str,
    prompt: str | Template,
    options: dict[str, Any],
    limit: int | None,
    token_budget: int | None,
    chunk_rows: int | None,
    retry_failed: bool,
) -> TableRunSummary:
    """See :meth:`Cortex.complete_table`."""
    generation: Generation = "legacy" if cx._functions == "legacy" else "ai"
    statements = 0

    def run(statement: Any) -> list[tuple[Any, ...]]:
        # The INSERT is PAID: a lost answer is recovered from the query history; it is sent
        # again only if it never ran (its anti-join would skip answered keys anyway).
        nonlocal statements
        statements += 1
        return cx._execute(statement).rows

    run(create_results_table_sql(into, source=source, key=key))
    if retry_failed:
        run(delete_failed_sql(into))
    start = _totals(run, into)
    done = start
    step = chunk_rows or (1000 if token_budget is not None else None)
    stopped = "done"
    while True:
        remaining = None if limit is None else limit - (done[0] - start[0])
        if remaining is not None and remaining <= 0:
            stopped = "limit"
            break
        if token_budget is not None and done[2] - start[2] >= token_budget:
            stopped = "token_budget"
            break
        size = min(x for x in (remaining, step) if x is not None) if (remaining or step) else None
        run(
            complete_table_sql(
                model,
                source=source,
                into=into,
                key=key,
                prompt=prompt,
                options=options,
                functions=generation,
                limit=size,
            )
        )
        after = _totals(run, into)
        if after[0] == done[0] or size is None:
            done = after
            break
        done = after
    return TableRunSummary(
        into, done[0] - start[0], done[1] - start[1], done[2] - start[2], statements, stopped
    )


def _totals(run: Any, into: str) -> tuple[int, int, int]:
    rows, failed, tokens = run(table_summary_sql(into))[0]
    return int(rows), int(failed), int(tokens or 0)


def read_table(
    cx: Cortex, into: str, *, key: str | None, batch_size: int
) -> Iterator[list[dict[str, Any]]]:
    """See :meth:`Cortex.read_table`."""
    yield from cx._stream(read_table_sql(into, key=key), batch_size=batch_size)
