"""The Statement every builder returns, what kind of statement it is, and small shared helpers.

Every statement is one of four kinds, which decide what cortex-tune may do after an
*ambiguous* failure (the answer was lost: the statement may or may not have run):

- ``READ``: no side effect (SELECT, SHOW, DESCRIBE, a single COMPLETE): sent again freely;
- ``IDEMPOTENT``: running it twice leaves what running it once leaves (``CREATE ... IF NOT
  EXISTS``, ``CREATE OR REPLACE ... AS SELECT``, inserts deduplicated when read): sent again;
- ``PAID``: costs money (or its first answer matters) each time it runs, but is harmless once
  Snowflake's query history shows it never ran (a batch of completions, complete_table's
  anti-join INSERT, COPY INTO): recovered from its first run, sent again only if it never ran;
- ``WRITE``: changes data and would change it again: recovered from its first run, never sent
  again (a user's INSERT, UPDATE, DELETE, ...).

cortex-tune's own statements are classified by their ``op``; a user's text (``cx.sql``) is
classified conservatively from the text itself by :func:`classify_sql`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from cortex_tune._core.constants import MARKER_PREFIX
from cortex_tune._core.errors import ConfigurationError

Param: TypeAlias = "str | int | float | bool | None"
Generation: TypeAlias = Literal["ai", "legacy"]


@dataclass(frozen=True)
class Statement:
    """One SQL statement with its bound parameters.

    Attributes:
        sql: The SQL text, with ``?`` placeholders.
        params: The values bound to the placeholders, in order.
        op: What the statement does, e.g. ``"finetune.create"``; backends and logs use it.
    """

    sql: str
    params: tuple[Param, ...] = ()
    op: str = "sql"

    def __repr__(self) -> str:
        # Parameters can be prompts or data; keep them out of reprs and logs.
        return f"Statement(op={self.op!r}, sql={self.sql!r}, params=<{len(self.params)} bound>)"


def require_text(value: object, what: str) -> None:
    """Refuse anything but a non-empty string without NUL characters."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ConfigurationError(f"{what} must be a non-empty string, not {value!r}")


def dump_json(value: Any) -> str:
    """Compact JSON text for a bound parameter."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- kinds ---------------------------------------------------------------------------------------


class Kind(enum.Enum):
    """What may be done with a statement whose answer was lost (see the module docstring)."""

    READ = "read"
    IDEMPOTENT = "idempotent"
    PAID = "paid"
    WRITE = "write"


#: The kind of every statement cortex-tune builds, by op. An op missing here is a WRITE.
KINDS: dict[str, Kind] = {
    # fine-tuning: CREATE starts a billed job and has its own reconciliation (by its marker,
    # through SHOW and DESCRIBE); CANCEL twice leaves the job cancelled.
    "finetune.show": Kind.READ,
    "finetune.describe": Kind.READ,
    "finetune.create": Kind.PAID,
    "finetune.cancel": Kind.IDEMPOTENT,
    # one completion or token count: a read (DESIGN: a single COMPLETE retries freely)
    "complete": Kind.READ,
    "ai_complete": Kind.READ,
    "count_tokens": Kind.READ,
    "ai_count_tokens": Kind.READ,
    # batches of completions: paid per run
    "complete_many": Kind.PAID,
    "evaluate": Kind.PAID,
    "complete_table": Kind.PAID,  # INSERT ... WHERE key NOT IN (answered): never duplicates
    "complete_table.create": Kind.IDEMPOTENT,  # CREATE TABLE IF NOT EXISTS
    "complete_table.retry": Kind.IDEMPOTENT,  # DELETE the failed rows
    "complete_table.summary": Kind.READ,
    "complete_table.count": Kind.READ,
    "read_table": Kind.READ,
    # datasets.load
    "datasets.stage": Kind.IDEMPOTENT,  # CREATE TEMPORARY STAGE IF NOT EXISTS
    "datasets.put": Kind.IDEMPOTENT,  # the same file to the same stage path
    "datasets.raw": Kind.IDEMPOTENT,  # CREATE TEMPORARY TABLE IF NOT EXISTS
    "datasets.insert": Kind.IDEMPOTENT,  # rows carry their index; the build keeps one of each
    "datasets.copy": Kind.PAID,  # load metadata skips loaded files; its first answer counts
    "datasets.count": Kind.READ,  # rows in the raw table, when COPY loaded no file
    "datasets.replace": Kind.IDEMPOTENT,  # CREATE OR REPLACE TABLE ... COPY GRANTS AS SELECT
    "datasets.create": Kind.IDEMPOTENT,  # CREATE TABLE IF NOT EXISTS
    "datasets.append": Kind.WRITE,  # INSERT INTO the user's table
    "datasets.drop": Kind.IDEMPOTENT,  # DROP TABLE IF EXISTS
    # pipelines: CREATE OR REPLACE TABLE ... AS SELECT, and counts
    "pipeline.data": Kind.IDEMPOTENT,
    "pipeline.evaluate": Kind.READ,
    # runs: the runs table's own writes are idempotent (a claim inserts its marker once, an
    # update sets fixed values on one marker's row); cancelling twice leaves it cancelled
    "runs.create": Kind.IDEMPOTENT,
    "runs.claim": Kind.IDEMPOTENT,
    "runs.update": Kind.IDEMPOTENT,
    "runs.read": Kind.READ,
    "runs.context": Kind.READ,
    "runs.history": Kind.READ,
    "runs.cancel": Kind.IDEMPOTENT,
    # checks and reconciliation itself
    "doctor": Kind.READ,
    "preflight": Kind.READ,
    "history.lookup": Kind.READ,
    "history.result": Kind.READ,
}

#: Ops of read-only families: every statement whose op starts with one of these is a READ.
READ_FAMILIES = ("doctor.", "preflight.", "history.")


def kind_of(statement: Statement) -> Kind:
    """The kind of ``statement``: by its op, or from its text for a user's SQL (op ``sql``)."""
    if statement.op == "sql":
        return classify_sql(statement.sql)
    kind = KINDS.get(statement.op)
    if kind is not None:
        return kind
    return Kind.READ if statement.op.startswith(READ_FAMILIES) else Kind.WRITE


_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|//[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)
_KEYWORD = re.compile(r"[A-Za-z]+")
_READ_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "LIST", "LS"})
_SESSION_KEYWORDS = frozenset({"USE", "SET", "UNSET"})
#: File commands run by the client: GET downloads; PUT uploads the same file to the same stage
#: path again (skipped, or overwritten with the same bytes); REMOVE twice removes it once.
_FILE_KINDS = {"GET": "read", "PUT": "idempotent", "REMOVE": "idempotent", "RM": "idempotent"}
_SIDE_EFFECTS = re.compile(
    r"FINETUNE|SYSTEM\$|NEXTVAL|\b(?:INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|COPY"
    r"|PUT|REMOVE|RM|CALL|EXECUTE|GRANT|REVOKE|UNDROP|BEGIN|COMMIT|ROLLBACK)\b",
    re.I,
)
_PAID_CALLS = re.compile(r"CORTEX\s*\.|\bAI_[A-Z_]+\s*\(|\b(?:TRY_)?COMPLETE\s*\(", re.I)
_ALTER_SESSION = re.compile(r"ALTER\s+SESSION\s+(?=(?:UN)?SET\b)", re.I)


def _body(text: str) -> str:
    """``text`` from its first word on: whitespace, comments and opening parentheses skipped."""
    return text[_LEADING_NOISE.match(text).end() :]  # type: ignore[union-attr]


def leading_keyword(text: str) -> str:
    """The first word of ``text`` after whitespace, comments and opening parentheses.

    Example:
        >>> leading_keyword("-- note\n(/* a */ select 1)")
        'SELECT'
    """
    match = _KEYWORD.match(_body(text))
    return match.group(0).upper() if match else ""


def classify_sql(text: str) -> Kind:
    """The kind of a user's SQL text, decided conservatively from the text alone.

    A read is a statement led by SELECT, WITH, SHOW, DESCRIBE, EXPLAIN or LIST that mentions no
    word of a write (even inside a string: when unsure, it is not a read); such a read calling
    a Cortex function is PAID. USE, SET, UNSET and ALTER SESSION are IDEMPOTENT, as are the file
    commands PUT and REMOVE (GET is a read). Anything else,
    and anything mentioning FINETUNE or a SYSTEM$ function, is a WRITE.

    Example:
        >>> classify_sql("/* report */ SELECT * FROM T").value
        'read'
        >>> classify_sql("INSERT INTO T VALUES (1)").value
        'write'
        >>> classify_sql("SELECT SNOWFLAKE.CORTEX.COMPLETE('m', p) FROM T").value
        'paid'
    """
    body = _body(text)
    keyword = leading_keyword(body)
    if keyword in _FILE_KINDS and "FINETUNE" not in body.upper():
        return Kind(_FILE_KINDS[keyword])
    if keyword in _READ_KEYWORDS and not _SIDE_EFFECTS.search(body):
        return Kind.PAID if _PAID_CALLS.search(body) else Kind.READ
    session = _ALTER_SESSION.match(body)
    if keyword in _SESSION_KEYWORDS or session is not None:
        setting = body[session.end() if session is not None else len(keyword) :]
        if not _SIDE_EFFECTS.search(setting) and not _PAID_CALLS.search(setting):
            return Kind.IDEMPOTENT
    return Kind.WRITE


# -- markers -------------------------------------------------------------------------------------


#: Bytes :func:`mark` adds to a statement's text, at most.
MARK_BYTES = len(f"\n/* {MARKER_PREFIX}{'0' * 64} */")


def mark(statement: Statement, marker: str) -> Statement:
    """``statement`` with a ``/* cortex-tune:req=<marker> */`` comment at the end of its text.

    The comment goes last, on its own line: a trailing line comment in the text cannot swallow
    it, and leading comments may be stripped from the text Snowflake records in its query
    history. Trailing semicolons and whitespace are removed first. The marker is an id
    cortex-tune generated (hex digits), never a value of the caller's.
    """
    if not re.fullmatch(r"[0-9a-f]{8,64}", marker):
        raise ConfigurationError(f"a request marker is 8 to 64 hex digits, not {marker!r}")
    text = statement.sql.rstrip().rstrip(";").rstrip()
    return dataclasses.replace(statement, sql=f"{text}\n/* {MARKER_PREFIX}{marker} */")


def statement_bytes(statement: Statement) -> int:
    """The size Snowflake's query-text guidance counts: the SQL text and every bound value, UTF-8."""
    size = len(statement.sql.encode("utf-8"))
    for value in statement.params:
        size += len(str(value).encode("utf-8")) if value is not None else 0
    return size
