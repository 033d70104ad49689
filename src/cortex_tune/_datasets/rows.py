"""Reading and checking dataset records: JSONL, CSV and DataFrame readers, type inference.

Used by :mod:`cortex_tune._datasets.datasets`; every record is validated on the client, before any
statement runs, and turned into one JSON line for the bulk load.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.identifiers import normalise_part
from cortex_tune._datasets.sql import LoadColumn

Report = Callable[[str, str], None]
Records = Iterator[tuple[str, Any]]

#: Problems listed in one error message (the total is always given).
MAX_REPORTED = 10
#: DataFrame rows converted to records at a time.
FRAME_BATCH_ROWS = 10_000

_INT_TEXT = re.compile(r"0|-?[1-9][0-9]{0,36}")
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class Collector:
    """Validates records, infers column types, and turns each record into one JSON line."""

    def __init__(self, *, prompt: str, completion: str, columns: Sequence[str] | None) -> None:
        self.required = {normalise_part(prompt): "prompt", normalise_part(completion): "completion"}
        self.select = None if columns is None else [c.upper() for c in columns]
        self.text_ints = False  # CSV: plain integers in text become numbers
        self.fields: dict[str, str] = {}  # column (upper-cased) -> the field's spelling
        self.kinds: dict[str, set[str | None]] = {}
        self.bad_names: set[str] = set()
        # Problems by the column a record lacks ("" for any other problem): a column that no
        # record has is reported once, with the columns found, rather than once per record.
        self.problems: dict[str, list[tuple[int, str]]] = {}
        self.problem_counts: dict[str, int] = {}
        self.seen = 0
        self.count = 0

    def report(self, location: str, message: str, *, column: str = "") -> None:
        self.seen += 1
        self.problem_counts[column] = self.problem_counts.get(column, 0) + 1
        kept = self.problems.setdefault(column, [])
        if len(kept) < MAX_REPORTED:
            kept.append((self.seen, f"{location}: {message}"))

    def add(self, location: str, record: Any) -> bytes | None:
        """The record as one UTF-8 JSON line, or None (and a problem) if it cannot load."""
        self.seen += 1
        try:
            out = self._values(record)
            line = json.dumps(
                {self.fields[c]: v for c, v in out.items()}, ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
            self.report(location, str(exc))
            return None
        for column in self.required:
            if column not in out:
                self.report(location, f"no {column} field", column=column)
        self.count += 1
        return line

    def _values(self, record: Any) -> dict[str, Any]:
        """The record's JSON-ready values by column, noting each column's kinds of value."""
        if not isinstance(record, Mapping):
            raise TypeError(f"not a JSON object but {type(record).__name__}")
        out: dict[str, Any] = {}
        for key, value in record.items():
            field = str(key)
            column = field.upper()
            if self.select is not None and column not in self.select:
                continue
            if not plain_field(field):
                self.bad_names.add(field)
                continue
            if self.fields.setdefault(column, field) != field:
                raise ValueError(f"fields {self.fields[column]!r} and {field!r} collide")
            try:
                out[column], kind = _plain(value, text=column in self.required, ints=self.text_ints)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"field {field}: {exc}") from exc
            self.kinds.setdefault(column, set()).add(kind)
        return out

    def finish(self) -> list[LoadColumn]:
        """The table's columns; raises ConfigurationError naming every problem found."""
        if self.bad_names:
            raise ConfigurationError(
                f"field names {sorted(self.bad_names)} are not plain identifiers",
                hint="Rename them (letters, digits, _ and $), or pick the fields to load "
                "with columns=[...].",
            )
        absent = [c for c in [*self.required, *(self.select or [])] if c not in self.fields]
        keys = ["", *(c for c in self.required if c not in absent)]
        total = sum(self.problem_counts.get(k, 0) for k in keys)
        if total:
            shown = [text for _, text in sorted(p for k in keys for p in self.problems.get(k, []))]
            shown = shown[:MAX_REPORTED] + (
                [f"... and {total - MAX_REPORTED} more"] if total > MAX_REPORTED else []
            )
            raise ConfigurationError(
                f"{total} problem(s) in the data, nothing was loaded:\n  " + "\n  ".join(shown)
            )
        if self.count == 0:
            raise ConfigurationError("the data has no rows to load")
        if absent:
            role = self.required.get(absent[0], "selected")
            raise ConfigurationError(
                f"the {role} column {absent[0]} is not in the data; "
                f"columns found: {', '.join(self.fields) or 'none'}",
                hint="Pass prompt=/completion= (or columns=) naming columns of the data.",
            )
        return [
            LoadColumn(self.fields[c], _column_type(self.kinds[c], text=c in self.required))
            for c in self.select or self.fields
        ]


def plain_field(field: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]{0,254}", field))


def _plain(value: Any, *, text: bool, ints: bool) -> tuple[Any, str | None]:
    """A JSON-ready value and its kind (None for a null, NaN, pandas NA or NaT)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None, None
    if isinstance(value, float) and math.isnan(value):
        return None, None
    if hasattr(value, "isoformat"):  # datetime, date, time, pandas Timestamp
        value = value.isoformat()
    elif not isinstance(value, (str, int, float, Mapping, list, tuple)) and hasattr(value, "item"):
        return _plain(value.item(), text=text, ints=ints)  # numpy scalars
    kind = _kind(value)
    if kind == "str" and ints and not text and _INT_TEXT.fullmatch(value):
        return int(value), "int"
    if text and kind != "str":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False), "str"
    return value, kind


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if abs(value) < 10**38 else "float"
    if isinstance(value, float):
        if math.isinf(value):
            raise ValueError("an infinite number cannot be loaded")
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (Mapping, list, tuple)):
        return "nested"
    raise ValueError(f"a {type(value).__name__} value cannot be loaded")


def _column_type(kinds: set[str | None], *, text: bool) -> str:
    present = kinds - {None}
    if text or not present:
        return "VARCHAR"
    if "nested" in present:
        return "VARIANT"
    if present == {"bool"}:
        return "BOOLEAN"
    if present == {"int"}:
        return "NUMBER(38,0)"
    return "FLOAT" if present <= {"int", "float"} else "VARCHAR"


# -- sources: each yields (location, record) and reports what it cannot read ------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def jsonl_records(path: Path, label: str, report: Report) -> Records:
    """One JSON value per non-blank line of a UTF-8 file, located as ``label line N``."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            text = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
            if not text.strip():
                continue
            location = f"{label} line {number}"
            try:
                yield location, json.loads(text.decode("utf-8"), parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                report(location, f"not valid JSON ({exc.msg} at column {exc.colno})")
            except ValueError as exc:  # not UTF-8, NaN
                report(location, f"not valid JSON ({exc})")


def csv_records(path: Path, label: str, report: Report) -> Records:
    """The rows of a CSV file with a header line (RFC 4180 quoting), as dicts of text."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is not None and len(set(header)) != len(header):
                report(f"{label} line 1", f"duplicate column names in the header {header}")
                return
            for row in reader:
                location = f"{label} line {reader.line_num}"
                if header is None or not row:
                    continue
                if len(row) != len(header):
                    report(location, f"{len(row)} fields where the header has {len(header)}")
                    continue
                yield location, dict(zip(header, row, strict=True))
        except (csv.Error, UnicodeDecodeError) as exc:
            report(f"{label} line {reader.line_num}", f"cannot read CSV ({exc})")


def frame_records(frame: Any) -> Records:
    """The rows of a pandas DataFrame (the index is not loaded)."""
    if not frame.columns.is_unique:
        raise ConfigurationError("the DataFrame has duplicate column names")
    for start in range(0, len(frame), FRAME_BATCH_ROWS):
        batch = frame.iloc[start : start + FRAME_BATCH_ROWS].to_dict(orient="records")
        for offset, record in enumerate(batch):
            yield f"row {start + offset}", record


def file_reader(data: str | PathLike[str]) -> tuple[Path, Callable[..., Records]]:
    path = Path(data)
    if not path.is_file():
        raise ConfigurationError(f"no such file: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return path, jsonl_records
    if suffix == ".csv":
        return path, csv_records
    raise ConfigurationError(f"cannot load {str(path)!r}: expected a .jsonl or .csv file")
