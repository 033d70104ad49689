"""Reading docs/snowflake-contract.md: its rows, their fields, and the references they make.

Used by tests/test_contract.py. A row starts at a ``### C-<AREA>-<NN>: <title>`` heading and
holds fields, each a top-level ``- **Name**: text`` bullet followed by its indented lines.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "snowflake-contract.md"

ROW = re.compile(r"^### (C-[A-Z]+-\d{2}): (.+)$")
FIELD = re.compile(r"^- \*\*([A-Za-z/ ]+)\*\*(?: \([^)]*\))?: ?(.*)$")
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")
CODE_REF = re.compile(r"`((?:src|tests)/[\w/]+\.py)::([\w.]+)`")
#: A quote of at least a few words (straight or typographic quotes) and a page's address.
QUOTE = re.compile(r"\"[^\"]{12,}\"|“[^”]{12,}”")
URL = re.compile(r"\(https://[^\s)]+")
CASE = re.compile(r"^\s+- \(([A-Z])\) (.+)$")


@dataclass
class Row:
    """One contract row: its id, title and fields (name -> text of every line, joined)."""

    id: str
    title: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)

    def text(self, name: str) -> str:
        return self.fields.get(name, "")

    def cases(self) -> list[tuple[str, str]]:
        """The lettered cases ``- (A) ...`` under Silent/conflict: (letter, text)."""
        found: list[tuple[str, str]] = []
        for line in self.lines.get("Silent/conflict", []):
            match = CASE.match(line)
            if match:
                found.append((match.group(1), match.group(2)))
            elif found and line.startswith("    "):  # the case goes on
                found[-1] = (found[-1][0], found[-1][1] + " " + line.strip())
        return found


def rows(text: str | None = None) -> list[Row]:
    """Every row of the contract (or of ``text``), in order."""
    text = CONTRACT.read_text("utf-8") if text is None else text
    found: list[Row] = []
    current: Row | None = None
    name: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        heading = ROW.match(line)
        if heading:
            current, name = Row(heading.group(1), heading.group(2), number), None
            found.append(current)
            continue
        if current is None:
            continue
        if line.startswith(("#", "---")):
            current, name = None, None
            continue
        bullet = FIELD.match(line)
        if bullet:
            name = bullet.group(1)
            current.lines.setdefault(name, []).append(bullet.group(2))
        elif name is not None and (line.startswith("  ") or not line.strip()):
            current.lines[name].append(line)
    for row in found:
        row.fields = {k: "\n".join(v) for k, v in row.lines.items()}
    return found


def has_documented_source(row: Row) -> bool:
    """A Docs field with a quote and a page's address."""
    docs = row.text("Docs")
    return bool(QUOTE.search(docs) and URL.search(docs))


@cache
def defined_tests() -> frozenset[str]:
    """Every ``tests/...py::test_name`` defined in the test suite (by reading the files)."""
    found = set()
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
                "test_"
            ):
                found.add(f"{relative}::{node.name}")
    return frozenset(found)


def node_ids(text: str) -> list[str]:
    return [f"{path}::{name}" for path, name in NODE_ID.findall(text)]


@cache
def _definitions(path: str) -> frozenset[str]:
    """The dotted names a module defines: functions, classes, their methods, assignments."""
    tree = ast.parse((ROOT / path).read_text("utf-8"))
    names: set[str] = set()

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + node.name)
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.Assign):
                names.update(prefix + t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(prefix + node.target.id)

    visit(tree.body, "")
    return frozenset(names)


def missing_code_refs(text: str) -> list[str]:
    """The ``path::name`` references in ``text`` whose file or definition does not exist."""
    missing = []
    for path, name in CODE_REF.findall(text):
        if not (ROOT / path).is_file() or name not in _definitions(path):
            missing.append(f"{path}::{name}")
    return missing


# -- checks ------------------------------------------------------------------------------------

CHECK = re.compile(r"^(?P<sql>(?:`[^`]+`(?:, then )?)+) returns `(?P<expected>[^`]+)`")


@dataclass(frozen=True)
class Check:
    """A documented example: statements (the last one's answer is compared) and the answer."""

    row: str
    statements: tuple[str, ...]
    expected: str


def checks(row: Row) -> list[Check]:
    """The ``- **Check**:`` lines of ``row``."""
    found = []
    for line in row.lines.get("Check", []):
        if not line.strip():
            continue
        match = CHECK.match(line.strip())
        if match is None:
            raise ValueError(
                f"{row.id}: a Check reads `SQL` [, then `SQL`] returns `ANSWER`: {line}"
            )
        statements = tuple(re.findall(r"`([^`]+)`", match.group("sql")))
        found.append(Check(row.id, statements, match.group("expected")))
    return found


def matches(expected: str, rows_: list[tuple[Any, ...]] | None, error: str | None) -> bool:
    """Whether an answer (the rows, or an error text) is the documented one.

    ``expected`` is JSON (the first column of the first row), ``/regex/`` (its text),
    ``shape <JSON>`` (its JSON's keys and types), ``rows <JSON>`` (every row), or
    ``error /regex/`` (the statement is refused with a matching message).
    """
    if expected.startswith("error "):
        return error is not None and re.search(expected[6:].strip("/"), error) is not None
    if error is not None or not rows_:
        return False
    if expected.startswith("rows "):
        return [list(r) for r in rows_] == json.loads(expected[5:])
    value = rows_[0][0]
    if expected.startswith("/") and expected.endswith("/"):
        return value is not None and re.fullmatch(expected[1:-1], str(value), re.S) is not None
    if expected.startswith("shape "):
        shape = json.loads(expected[6:])
        # A VARIANT arrives as JSON text; a shape that is a type name is about the text itself.
        data = json.loads(value) if isinstance(value, str) and not isinstance(shape, str) else value
        return _shaped(data, shape)
    return bool(value == json.loads(expected))


_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _shaped(value: Any, shape: Any) -> bool:
    if isinstance(shape, str):
        kind = _TYPES[shape]
        return isinstance(value, kind) and not (shape in ("integer", "number") and value is True)
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(
            k in value and _shaped(value[k], v) for k, v in shape.items()
        )
    if isinstance(shape, list):
        return isinstance(value, list) and bool(value) and all(_shaped(v, shape[0]) for v in value)
    return bool(value == shape)
