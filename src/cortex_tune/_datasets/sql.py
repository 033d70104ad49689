"""Statement builders for loading datasets in bulk and for deterministic splits.

A load lands rows in a temporary one-column ``VARIANT`` table first (``COPY INTO`` from a
temporary internal stage, or a bound JSON array flattened server-side), then builds the target
table from it in one statement, casting each field to its column type. Every value is bound or
travels in a staged file; table names are validated identifiers; field names are plain
identifiers (checked here again) that appear as double-quoted path keys and columns.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.identifiers import quote_column, validate_name
from cortex_tune.sql import Statement

#: The column types a load creates, by what the data holds.
COLUMN_TYPES = frozenset({"VARCHAR", "NUMBER(38,0)", "FLOAT", "BOOLEAN", "VARIANT"})

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
# The local path of a file cortex-tune wrote itself; PUT takes no bind parameters, so the path is
# checked against a conservative alphabet before it is placed in single quotes.
_PUT_PATH = re.compile(r"[A-Za-z0-9_./:~+ -]+")


@dataclass(frozen=True)
class LoadColumn:
    """One column of a loaded table: the data's field and the SQL type it is cast to.

    Example:
        >>> LoadColumn("prompt", "VARCHAR").name
        '"PROMPT"'
    """

    field: str
    type: str = "VARCHAR"

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not _FIELD.fullmatch(self.field):
            raise ConfigurationError(
                f"field name {self.field!r} is not a plain identifier (letters, digits, _ and $)"
            )
        if self.type not in COLUMN_TYPES:
            raise ConfigurationError(f"unsupported column type {self.type!r}")

    @property
    def name(self) -> str:
        """The column, as Snowflake resolves an unquoted field name: upper-cased (and quoted,
        so that a field called ``order`` or ``values`` is a column too)."""
        return f'"{self.field.upper()}"'

    def extract(self, variant: str) -> str:
        """The SQL expression reading this field from the VARIANT expression ``variant``."""
        path = f'{variant}:"{self.field}"'
        return path if self.type == "VARIANT" else f"{path}::{self.type}"


def temporary_names() -> tuple[str, str]:
    """A fresh (stage, raw table) pair of names for one load.

    They are unqualified: temporary objects live in the session's current schema (the local
    engine refuses qualified temporary tables).
    """
    tag = uuid.uuid4().hex[:12].upper()
    return f"CORTEX_TUNE_STAGE_{tag}", f"CORTEX_TUNE_RAW_{tag}"


def create_stage_sql(stage: str) -> Statement:
    """A temporary internal stage; it disappears with the session (IF NOT EXISTS: retry-safe)."""
    validate_name(stage, what="stage name")
    return Statement(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}", (), "datasets.stage")


def put_file_sql(path: str | PurePath, stage: str) -> Statement:
    """Upload a local file cortex-tune wrote to ``stage`` (compressed on the way).

    Example:
        >>> put_file_sql("/tmp/cortex-tune-x/rows.jsonl", "S").sql
        "PUT 'file:///tmp/cortex-tune-x/rows.jsonl' @S"
    """
    validate_name(stage, what="stage name")
    posix = PurePath(path).as_posix()
    if not _PUT_PATH.fullmatch(posix) or not PurePath(path).is_absolute():
        raise ConfigurationError(
            f"cannot upload {posix!r}: PUT needs an absolute path of letters, digits, "
            "spaces and . _ - / : ~ +",
            hint="Point TMPDIR at a directory with a plain path.",
        )
    return Statement(f"PUT 'file://{posix}' @{stage}", (), "datasets.put")


def create_raw_table_sql(raw: str, *, indexed: bool = False) -> Statement:
    """The temporary table rows land in before they are typed: ``(V VARIANT)`` for COPY INTO,
    ``(I NUMBER(38,0), V VARIANT)`` with ``indexed`` for bound inserts (``I`` is the row's
    position in the data, so a chunk inserted twice is read once)."""
    validate_name(raw, what="table name")
    columns = "I NUMBER(38,0), V VARIANT" if indexed else "V VARIANT"
    return Statement(f"CREATE TEMPORARY TABLE IF NOT EXISTS {raw} ({columns})", (), "datasets.raw")


def copy_json_sql(raw: str, stage: str) -> Statement:
    """Load every JSON-lines file of ``stage`` into ``raw``, one row per line, then purge them.

    Running it twice loads the files once: COPY skips files its load metadata says it loaded.
    """
    validate_name(raw, what="table name")
    validate_name(stage, what="stage name")
    sql = (
        f"COPY INTO {raw} FROM @{stage} FILE_FORMAT = (TYPE = JSON) "
        "ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
    )
    return Statement(sql, (), "datasets.copy")


def count_raw_sql(raw: str) -> Statement:
    """The rows in ``raw``: what a COPY that loaded no file left there."""
    validate_name(raw, what="table name")
    return Statement(f"SELECT COUNT(*) FROM {raw}", (), "datasets.count")  # noqa: S608


def insert_raw_sql(raw: str, rows_json: str, start: int = 0) -> Statement:
    """Insert a bound JSON array of objects into the indexed ``raw``, flattened server-side:
    element ``n`` becomes row ``I = start + n``. Inserting the same chunk again adds rows that
    the build reads once (see :func:`replace_table_sql`)."""
    validate_name(raw, what="table name")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ConfigurationError(f"start must be a non-negative integer, not {start!r}")
    sql = (
        f"INSERT INTO {raw} (I, V) SELECT ? + f.index, f.value "  # noqa: S608
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) f"
    )
    return Statement(sql, (start, rows_json), "datasets.insert")


def _projection(columns: Sequence[LoadColumn], *, aliases: bool) -> str:
    if not columns:
        raise ConfigurationError("a load needs at least one column")
    parts = [c.extract("V") + (f" AS {c.name}" if aliases else "") for c in columns]
    return ", ".join(parts)


def _rows_of(raw: str, indexed: bool) -> str:
    """``raw`` as a row source: an indexed one keeps one row per index."""
    if not indexed:
        return raw
    return f"(SELECT V FROM {raw} QUALIFY ROW_NUMBER() OVER (PARTITION BY I ORDER BY I) = 1)"  # noqa: S608


def replace_table_sql(
    table: str, columns: Sequence[LoadColumn], raw: str, *, indexed: bool = False
) -> Statement:
    """Replace ``table`` with the typed rows of ``raw``, in one (atomic) statement.

    ``COPY GRANTS`` keeps the privileges granted on the table it replaces: "If the parameter is
    not included in the CREATE TABLE statement, then the new table does not inherit any
    explicit access privileges granted on the original table" (the CREATE TABLE reference).

    Example:
        >>> replace_table_sql("T", [LoadColumn("id", "NUMBER(38,0)")], "R").sql
        'CREATE OR REPLACE TABLE T COPY GRANTS AS SELECT V:"id"::NUMBER(38,0) AS "ID" FROM R'
    """
    validate_name(table, what="table name")
    validate_name(raw, what="table name")
    projection = _projection(columns, aliases=True)
    rows = _rows_of(raw, indexed)
    sql = f"CREATE OR REPLACE TABLE {table} COPY GRANTS AS SELECT {projection} FROM {rows}"  # noqa: S608
    return Statement(sql, (), "datasets.replace")


def create_table_sql(table: str, columns: Sequence[LoadColumn]) -> Statement:
    """Create ``table`` with ``columns`` unless it exists (for appending)."""
    validate_name(table, what="table name")
    if not columns:
        raise ConfigurationError("a load needs at least one column")
    defs = ", ".join(f"{c.name} {c.type}" for c in columns)
    return Statement(f"CREATE TABLE IF NOT EXISTS {table} ({defs})", (), "datasets.create")


def append_rows_sql(
    table: str, columns: Sequence[LoadColumn], raw: str, *, indexed: bool = False
) -> Statement:
    """Append the typed rows of ``raw`` to ``table``, column by column name."""
    validate_name(table, what="table name")
    validate_name(raw, what="table name")
    names = ", ".join(c.name for c in columns)
    projection = _projection(columns, aliases=False)
    sql = f"INSERT INTO {table} ({names}) SELECT {projection} FROM {_rows_of(raw, indexed)}"  # noqa: S608
    return Statement(sql, (), "datasets.append")


def drop_raw_table_sql(raw: str) -> Statement:
    """Drop the temporary table of a load (it would go with the session anyway)."""
    validate_name(raw, what="table name")
    return Statement(f"DROP TABLE IF EXISTS {raw}", (), "datasets.drop")


def split_conditions(by: str, train: float) -> tuple[str, str]:
    """The guides' deterministic split on an integer column: ``MOD(by, 10) < 8`` and ``>= 8``.

    ``train`` is a fraction in (0, 1) in steps of 0.1 (buckets of 10) or 0.01 (buckets of
    100). The bucket numbers are integers cortex-tune computes, never user text.

    Example:
        >>> split_conditions("ID", 0.8)
        ('MOD(ID, 10) < 8', 'MOD(ID, 10) >= 8')
        >>> split_conditions("ID", 0.75)
        ('MOD(ID, 100) < 75', 'MOD(ID, 100) >= 75')
    """
    column = quote_column(by)
    if isinstance(train, bool) or not isinstance(train, (int, float)) or not 0 < train < 1:
        raise ConfigurationError(
            f"train must be a fraction strictly between 0 and 1, not {train!r}"
        )
    for buckets in (10, 100):
        cut = round(train * buckets)
        if abs(train * buckets - cut) < 1e-9:
            mod = f"MOD({column}, {buckets})"
            return f"{mod} < {cut}", f"{mod} >= {cut}"
    raise ConfigurationError(
        f"train must be a multiple of 0.01 (e.g. 0.8 or 0.75), not {train!r}",
        hint="Rows are split by MOD(column, 10) or MOD(column, 100).",
    )
