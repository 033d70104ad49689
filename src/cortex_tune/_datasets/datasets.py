"""Datasets: prompt/completion data loaded into Snowflake tables in bulk, and deterministic splits.

Every load reads and validates all of the data on the client first (so a bad line fails before
any statement runs), writes it as JSON lines, and then issues a fixed handful of statements:

* files, DataFrames and S3 objects: ``CREATE TEMPORARY STAGE``, ``PUT`` of one JSON-lines file,
  ``CREATE TEMPORARY TABLE raw (V VARIANT)``, ``COPY INTO raw ... FILE_FORMAT = (TYPE = JSON)``,
  then the target table built from ``raw`` in one statement, then ``DROP TABLE raw``;
* in-memory lists of dicts: the same, with the stage and PUT replaced by one
  ``INSERT INTO raw SELECT ? + index, value FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`` per
  statement's worth of JSON (under Snowflake's 1 MB guidance for a statement and its bound
  values; no temporary file, no PUT, which some environments do not allow). Each row keeps its
  position in the data, and the target is built from one row per position, so an INSERT whose
  answer was lost can be sent again without loading its rows twice.

Nothing is written to the target table until its one building statement: a load that fails
leaves it as it was. That statement is idempotent for ``replace`` (``CREATE OR REPLACE ... AS
SELECT``); for ``append`` it is recovered from the query history if its answer is lost, never
sent twice.

Column types are inferred from the values: integers become ``NUMBER(38,0)``, numbers
``FLOAT``, booleans ``BOOLEAN``, objects and arrays ``VARIANT``, anything else or a mix
``VARCHAR``. CSV files hold text, so their columns are ``VARCHAR`` except where every value is
a plain integer (``0``, ``-12``, not ``007``). The prompt and completion columns are always
``VARCHAR``; a non-string value there is stored as its compact JSON text.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cortex_tune._core.constants import STATEMENT_BYTES
from cortex_tune._core.errors import ConfigurationError, CortexError, QueryError
from cortex_tune._core.identifiers import quote_column, validate_name
from cortex_tune._core.statement import statement_bytes
from cortex_tune._datasets.rows import (
    JSONL_SUFFIXES,
    Collector,
    Records,
    Report,
    csv_records,
    file_reader,
    frame_records,
    jsonl_records,
    plain_field,
)
from cortex_tune._datasets.sql import (
    LoadColumn,
    append_rows_sql,
    copy_json_sql,
    count_raw_sql,
    create_raw_table_sql,
    create_stage_sql,
    create_table_sql,
    drop_raw_table_sql,
    insert_raw_sql,
    put_file_sql,
    replace_table_sql,
    split_conditions,
    temporary_names,
)
from cortex_tune._finetune.training_data import TrainingData

if TYPE_CHECKING:
    from cortex_tune._backends.base import Result
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

Mode = Literal["replace", "append"]

_S3_HINT = 'pip install "cortex-tune[s3]"'
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,62})(?:/(.*))?")


def _check_args(
    table: str, prompt: str, completion: str, mode: str, columns: Sequence[str] | None
) -> None:
    validate_name(table, what="table name")
    quote_column(prompt)
    quote_column(completion)
    if mode not in ("replace", "append"):
        raise ConfigurationError(f"mode must be 'replace' or 'append', not {mode!r}")
    if columns is not None:
        if isinstance(columns, str) or not columns:
            raise ConfigurationError("columns must be a non-empty list of field names")
        plain = all(isinstance(c, str) and plain_field(c) for c in columns)
        if not plain or len({c.upper() for c in columns}) != len(columns):
            raise ConfigurationError(
                f"columns must be distinct plain field names, not {list(columns)!r}"
            )


# -- statements ------------------------------------------------------------------------------


def _load_staged(
    cx: Cortex, records: Callable[[Path], Records], collector: Collector, table: str, mode: Mode
) -> None:
    """Check and write every record to one JSON-lines file, then PUT and COPY it."""
    with tempfile.TemporaryDirectory(prefix="cortex-tune-") as tmp:
        path = Path(tmp) / "rows.jsonl"
        with path.open("wb") as sink:
            for location, record in records(Path(tmp)):
                line = collector.add(location, record)
                if line is not None:
                    sink.write(line + b"\n")
        load_columns = collector.finish()
        stage, raw = temporary_names()
        cx._execute(create_stage_sql(stage))
        cx._execute(put_file_sql(path, stage))
        with _raw_table(cx, raw):
            _check_copied(cx, cx._execute(copy_json_sql(raw, stage)), raw, collector.count)
            _fill_target(cx, table, load_columns, raw, mode)


def _load_bound(
    cx: Cortex, lines: list[bytes], table: str, columns: list[LoadColumn], mode: Mode
) -> None:
    """Insert the records as bound JSON arrays, one statement's worth at a time, then build the
    table. Each INSERT is idempotent (rows keep their index), so it is sent again freely."""
    _, raw = temporary_names()
    with _raw_table(cx, raw, indexed=True):
        for start, chunk in _chunks(lines, room=_insert_room(raw, len(lines))):
            payload = (b"[" + b",".join(chunk) + b"]").decode("utf-8")
            cx._execute(insert_raw_sql(raw, payload, start))
        _fill_target(cx, table, columns, raw, mode, indexed=True)


def _insert_room(raw: str, rows: int) -> int:
    """Bytes of JSON one INSERT may bind: the statement guidance less its SQL text and index."""
    return STATEMENT_BYTES - statement_bytes(insert_raw_sql(raw, "", rows))


def _chunks(lines: list[bytes], *, room: int) -> Iterator[tuple[int, list[bytes]]]:
    """Runs of lines whose JSON array (``[a,b,...]``) fits in ``room`` bytes, with the index of
    their first line. Greedy, so the count is the fewest in-order runs; a line larger than
    ``room`` goes alone."""
    chunk: list[bytes] = []
    start, size = 0, 2
    for index, line in enumerate(lines):
        if chunk and size + len(line) + 1 > room:
            yield start, chunk
            chunk, start, size = [], index, 2
        if not chunk and len(line) + 2 > room:
            log.warning(
                "record %d alone is %d bytes of JSON, over Snowflake's statement size guidance",
                index,
                len(line),
            )
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        yield start, chunk


@contextlib.contextmanager
def _raw_table(cx: Cortex, raw: str, *, indexed: bool = False) -> Iterator[None]:
    cx._execute(create_raw_table_sql(raw, indexed=indexed))
    try:
        yield
    finally:
        try:
            cx._execute(drop_raw_table_sql(raw))
        except CortexError as exc:  # temporary: it goes with the session anyway
            log.info("could not drop temporary table %s: %s", raw, exc)


def _fill_target(
    cx: Cortex,
    table: str,
    columns: list[LoadColumn],
    raw: str,
    mode: Mode,
    *,
    indexed: bool = False,
) -> None:
    if mode == "replace":
        cx._execute(replace_table_sql(table, columns, raw, indexed=indexed))
        return
    cx._execute(create_table_sql(table, columns))
    cx._execute(append_rows_sql(table, columns, raw, indexed=indexed))


def _check_copied(cx: Cortex, result: Result, raw: str, expected: int) -> None:
    """Every record is in ``raw``, or raise before the target is touched. COPY answers a row
    per file with ``rows_loaded``, or, having loaded no file (a retry, or nothing staged), one
    undocumented ``status`` column: then the raw table is counted."""
    names = [c.lower() for c in result.columns]
    if "rows_loaded" in names:
        loaded = sum(int(row[names.index("rows_loaded")] or 0) for row in result.rows)
    else:
        loaded = int(cx._execute(count_raw_sql(raw)).rows[0][0])
    if loaded != expected:
        raise QueryError(
            f"COPY INTO loaded {loaded} of {expected} rows; the target table was not changed",
            op="datasets.copy",
        )


# -- S3 --------------------------------------------------------------------------------------


def _s3_client(session: Any) -> tuple[Any, Any]:
    try:
        boto3 = importlib.import_module("boto3")
        errors = importlib.import_module("botocore.exceptions")
    except ImportError as exc:
        raise ConfigurationError(f"from_s3 needs boto3 ({exc})", hint=_S3_HINT) from exc
    return (session or boto3.Session()).client("s3"), errors


def _list_jsonl(client: Any, bucket: str, prefix: str, max_objects: int) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [
            o["Key"] for o in page.get("Contents", []) if o["Key"].lower().endswith(JSONL_SUFFIXES)
        ]
        if len(keys) > max_objects:
            raise ConfigurationError(
                f"more than {max_objects} JSON-lines objects under s3://{bucket}/{prefix}",
                hint="Raise max_objects; for very large data, COPY INTO from an external stage "
                "(CREATE STAGE ... URL = 's3://...' STORAGE_INTEGRATION = ...).",
            )
    if not keys:
        raise ConfigurationError(f"no .jsonl or .ndjson objects under s3://{bucket}/{prefix}")
    return keys


def _s3_records(client: Any, bucket: str, keys: list[str], tmp: Path, report: Report) -> Records:
    """Download each object in turn (to a name of ours: keys are not trusted) and read it."""
    path = tmp / "object.jsonl"
    for key in keys:
        with path.open("wb") as sink:
            for piece in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
                sink.write(piece)
        yield from jsonl_records(path, f"s3://{bucket}/{key}", report)
    path.unlink(missing_ok=True)


# -- splits ----------------------------------------------------------------------------------


def split(
    data: TrainingData | str, *, by: str = "ID", train: float = 0.8
) -> tuple[TrainingData, TrainingData]:
    """Split data deterministically on an integer column, as the guides do. Pure: no I/O.

    ``train=0.8`` keeps rows with ``MOD(by, 10) < 8`` for training and ``>= 8`` for
    validation; fractions in steps of 0.01 use ``MOD(by, 100)``. Rows whose ``by`` is NULL
    fall in neither half; ``by`` should be a non-negative integer column.

    Example:
        >>> train, valid = split(TrainingData.table("EMAILS", prompt="BODY"), by="ID")
        >>> train.where, valid.where
        ('MOD(ID, 10) < 8', 'MOD(ID, 10) >= 8')
    """
    source = data if isinstance(data, TrainingData) else TrainingData.table(data)
    train_where, validation_where = split_conditions(by, train)
    return source.filter(train_where), source.filter(validation_where)


class Datasets:
    """Training data into tables: from a DataFrame, a list of dicts, a JSONL or CSV file, or S3.

    Reached as ``cx.datasets``. Every statement goes through the client's funnel.
    """

    def __init__(self, client: Cortex) -> None:
        self._client = client

    def load(
        self,
        data: Any,
        *,
        table: str,
        prompt: str = "PROMPT",
        completion: str = "COMPLETION",
        mode: Mode = "replace",
        columns: Sequence[str] | None = None,
    ) -> TrainingData:
        """Load rows into ``table`` in bulk and return them as :class:`TrainingData`.

        ``data`` is a pandas DataFrame, a list of dicts, or the path of a ``.jsonl`` or
        ``.csv`` file (UTF-8, CSV with a header line). Everything is read and checked first,
        so bad data fails before any statement runs. Files and DataFrames travel as one
        JSON-lines file through a temporary internal stage (PUT, then COPY INTO); a list
        travels as bound JSON arrays flattened server-side, one INSERT per statement's worth
        (Snowflake's guidance: 1 MB with the bound values; no file, no PUT). The number of
        statements of a file load does not grow with the rows. No statement is ever run twice
        with effect: a lost answer is recovered (see :meth:`Cortex.sql`). Fields become
        upper-cased columns (``prompt`` -> ``PROMPT``); the module docstring gives the types.

        Args:
            data: The rows.
            table: The target table (``T``, ``SCHEMA.T`` or ``DB.SCHEMA.T``).
            prompt: The column holding prompts; it must be in the data.
            completion: The column holding completions; it must be in the data.
            mode: ``"replace"`` rebuilds the table in one statement (``CREATE OR REPLACE
                TABLE ... COPY GRANTS AS SELECT``: the grants on it stay); ``"append"``
                creates it if missing, then inserts by
                column name (an existing table must have every loaded column).
            columns: The fields to load, in order (default: all, in first-seen order).

        Raises:
            ConfigurationError: Bad arguments, or bad data (each problem with its location),
                before any statement runs.

        Example:
            >>> td = cx.datasets.load([{"prompt": "2+2?", "completion": "4"}],
            ...                       table="TRAIN")  # doctest: +SKIP
            >>> cx.finetune.create("M", base_model="mistral-7b", training=td)  # doctest: +SKIP
        """
        _check_args(table, prompt, completion, mode, columns)
        collector = Collector(prompt=prompt, completion=completion, columns=columns)
        if isinstance(data, (str, PathLike)):
            path, read = file_reader(data)
            collector.text_ints = read is csv_records
            _load_staged(
                self._client,
                lambda tmp: read(path, str(path), collector.report),
                collector,
                table,
                mode,
            )
        elif hasattr(data, "iloc") and hasattr(data, "columns"):
            _load_staged(self._client, lambda tmp: frame_records(data), collector, table, mode)
        elif isinstance(data, Sequence) and not isinstance(data, (bytes, bytearray)):
            lines = [collector.add(f"item {i}", record) for i, record in enumerate(data)]
            kept = [line for line in lines if line is not None]
            _load_bound(self._client, kept, table, collector.finish(), mode)
        else:
            raise ConfigurationError(
                f"cannot load a {type(data).__name__}: give a DataFrame, a list of dicts, "
                "or the path of a .jsonl or .csv file"
            )
        return TrainingData.table(table, prompt=prompt, completion=completion)

    def from_s3(
        self,
        url: str,
        *,
        table: str,
        prompt: str = "PROMPT",
        completion: str = "COMPLETION",
        mode: Mode = "replace",
        columns: Sequence[str] | None = None,
        session: Any = None,
        max_objects: int = 1000,
    ) -> TrainingData:
        """Load every ``.jsonl`` object under ``s3://bucket/prefix`` (needs the ``s3`` extra).

        Each object is downloaded and checked (every line a JSON object with the prompt and
        completion fields); problems are reported by object key and line number before
        anything is loaded. The rows then go through a temporary internal stage as in
        :meth:`load`, which works on any account and on the emulator. For very large data,
        an external stage on the bucket (``CREATE STAGE ... URL = 's3://...'
        STORAGE_INTEGRATION = ...``) and ``COPY INTO`` avoid the trip through this machine.

        Args:
            url: ``s3://bucket`` or ``s3://bucket/prefix``.
            session: A ``boto3.Session`` (default: boto3's default credentials chain).
            max_objects: Refuse a prefix holding more JSON-lines objects than this.
            table, prompt, completion, mode, columns: As in :meth:`load`.

        Example:
            >>> cx.datasets.from_s3("s3://my-bucket/train/", table="TRAIN")  # doctest: +SKIP
        """
        _check_args(table, prompt, completion, mode, columns)
        match = _S3_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None:
            raise ConfigurationError(f"expected an s3://bucket/prefix URL, not {url!r}")
        if isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1:
            raise ConfigurationError(f"max_objects must be a positive integer, not {max_objects!r}")
        bucket, prefix = match.group(1), match.group(2) or ""
        client, errors = _s3_client(session)
        collector = Collector(prompt=prompt, completion=completion, columns=columns)
        try:
            keys = _list_jsonl(client, bucket, prefix, max_objects)
            records = functools.partial(_s3_records, client, bucket, keys, report=collector.report)
            _load_staged(self._client, records, collector, table, mode)
        except (errors.ClientError, errors.BotoCoreError) as exc:
            raise ConfigurationError(
                f"cannot read {url}: {exc}",
                hint="Check the URL, the AWS credentials (session=) and the s3:ListBucket and "
                "s3:GetObject permissions.",
            ) from exc
        return TrainingData.table(table, prompt=prompt, completion=completion)

    def split(
        self, data: TrainingData | str, *, by: str = "ID", train: float = 0.8
    ) -> tuple[TrainingData, TrainingData]:
        """Deterministic train/validation halves of ``data`` (see :func:`split`). No I/O.

        Example:
            >>> train, valid = cx.datasets.split(td, by="ID", train=0.8)  # doctest: +SKIP
        """
        return split(data, by=by, train=train)
