"""Every statement has a kind (read, idempotent, paid, write), and statements stay under
Snowflake's query-size guidance (https://docs.snowflake.com/en/user-guide/query-size-limits)."""

from __future__ import annotations

import ast
import importlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from cortex_tune import Cortex
from cortex_tune._core.statement import (
    KINDS,
    READ_FAMILIES,
    Kind,
    Statement,
    classify_sql,
    kind_of,
    mark,
    statement_bytes,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "cortex_tune"


def _ops_in_source() -> set[str]:
    """The op of every ``Statement(...)`` the package builds (string or module constant)."""
    ops: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        module = ".".join(("cortex_tune", *path.relative_to(SRC).with_suffix("").parts))
        for node in ast.walk(tree):
            # Statement(sql, params, op), and sql.py's FINETUNE helper _finetune(verb, params, op)
            name = getattr(node.func, "id", "") if isinstance(node, ast.Call) else ""
            if name not in ("Statement", "_finetune"):
                continue
            arg = node.args[2] if len(node.args) > 2 else None
            arg = next((k.value for k in node.keywords if k.arg == "op"), arg)
            if isinstance(arg, ast.Constant):
                ops.add(str(arg.value))
            elif isinstance(arg, ast.Name) and not _is_parameter(tree, arg.id):
                ops.add(str(getattr(importlib.import_module(module), arg.id)))
    return ops


def _is_parameter(tree: ast.Module, name: str) -> bool:
    """Whether ``name`` is a parameter of some function in ``tree`` (its callers pass the op)."""
    return any(
        isinstance(f, ast.FunctionDef) and name in {a.arg for a in f.args.args + f.args.kwonlyargs}
        for f in ast.walk(tree)
    )


def test_every_op_cortex_tune_builds_is_classified() -> None:
    ops = _ops_in_source()
    assert {"finetune.create", "complete_many", "datasets.append", "history.lookup"} <= ops
    unclassified = {
        op for op in ops - {"sql"} if op not in KINDS and not op.startswith(READ_FAMILIES)
    }
    assert unclassified == set(), "give these ops a kind in cortex_tune._core.statement.KINDS"


@pytest.mark.parametrize(
    ("op", "kind"),
    [
        ("finetune.describe", Kind.READ),
        ("complete", Kind.READ),  # a single COMPLETE retries freely
        ("complete_many", Kind.PAID),
        ("evaluate", Kind.PAID),
        ("complete_table", Kind.PAID),
        ("datasets.insert", Kind.IDEMPOTENT),
        ("datasets.replace", Kind.IDEMPOTENT),
        ("datasets.append", Kind.WRITE),
        ("doctor.roles", Kind.READ),  # a family of reads
        ("something.new", Kind.WRITE),  # unknown: conservative
    ],
)
def test_kinds_of_cortex_tunes_own_statements(op: str, kind: Kind) -> None:
    assert kind_of(Statement("SELECT 1", (), op)) is kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SELECT * FROM T", Kind.READ),
        ("  -- a note\n/* and another */ (SELECT 1)", Kind.READ),
        ("with a as (select 1) select * from a", Kind.READ),
        ("SHOW TABLES", Kind.READ),
        ("DESC TABLE T", Kind.READ),
        ("SELECT created_at FROM updates", Kind.READ),  # words, not substrings
        ("GET @s file:///tmp/", Kind.READ),
        ("SELECT SNOWFLAKE.CORTEX.COMPLETE('m', p) FROM T", Kind.PAID),
        ("SELECT AI_COMPLETE('m', p) FROM T", Kind.PAID),
        ("USE WAREHOUSE W", Kind.IDEMPOTENT),
        ("ALTER SESSION SET QUERY_TAG = 'x'", Kind.IDEMPOTENT),
        ("PUT file:///tmp/x @s", Kind.IDEMPOTENT),
        ("INSERT INTO T VALUES (1)", Kind.WRITE),
        ("/* SELECT */ DELETE FROM T", Kind.WRITE),
        ("UPDATE T SET A = 1", Kind.WRITE),
        ("MERGE INTO T USING S ON T.A = S.A WHEN MATCHED THEN DELETE", Kind.WRITE),
        ("CREATE OR REPLACE TABLE T AS SELECT 1 AS A", Kind.WRITE),  # a user's: conservative
        ("CALL PROC()", Kind.WRITE),
        ("SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'M', 'b', 'q')", Kind.WRITE),
        ("SELECT SYSTEM$CANCEL_ALL_QUERIES(1)", Kind.WRITE),
        ("SELECT S.NEXTVAL", Kind.WRITE),
        ("SELECT * FROM T WHERE NOTE = 'please delete'", Kind.WRITE),  # unsure: not a read
        ("ALTER SESSION SET X = (SELECT FINETUNE('CREATE'))", Kind.WRITE),
        ("", Kind.WRITE),
    ],
)
def test_a_users_sql_is_classified_conservatively(text: str, kind: Kind) -> None:
    assert classify_sql(text) is kind


@pytest.mark.parametrize(
    "text",
    ["INSERT INTO T VALUES (1)", "INSERT INTO T VALUES (1);  ", "INSERT INTO T VALUES (1) -- end"],
)
def test_the_marker_goes_last_on_its_own_line(text: str) -> None:
    marked = mark(Statement(text, (1,), "sql"), "0123456789abcdef")
    assert marked.sql.endswith("\n/* cortex-tune:req=0123456789abcdef */")
    assert marked.sql.startswith(text.rstrip().rstrip(";").rstrip())
    assert (marked.params, marked.op) == ((1,), "sql")
    with pytest.raises(ValueError, match="hex digits"):
        mark(Statement(text), "*/ DROP TABLE T /*")


@pytest.fixture
def traced() -> Any:
    pytest.importorskip("fakesnow")
    sent: list[tuple[str, tuple[Any, ...]]] = []
    cx = Cortex.local(tracer=lambda sql, params: sent.append((sql, params)))
    cx.backend.register_model("stand-in", lambda request: request.prompt[:3])  # type: ignore[attr-defined]
    yield cx, sent
    cx.close()


def test_complete_many_keeps_each_statement_under_one_megabyte_and_packs_them(traced: Any) -> None:
    cx, sent = traced
    prompts = [f"{i:05d} " + "word " * 60 for i in range(10_000)]  # ~306 bytes each, ~3 MB

    results = cx.complete_many("stand-in", prompts)

    assert [r.text for r in results[:2]] == ["000", "000"] and results[-1].text == "099"
    batches = [Statement(sql, params) for sql, params in sent if "FLATTEN" in sql]
    sizes = [statement_bytes(b) for b in batches]
    assert max(sizes) <= 1_000_000  # Snowflake's guidance, SQL text and binds together
    # Packed: no statement could have taken the next one's first prompt.
    for batch, after in itertools.pairwise(batches):
        first = json.loads(str(after.params[-1]))[0]
        assert (
            statement_bytes(batch) + len(json.dumps(first, separators=(",", ":"))) + 1 > 1_000_000
        )
    assert len(batches) == 4


def test_a_prompt_too_large_for_the_guidance_goes_alone(traced: Any) -> None:
    cx, sent = traced
    prompts = ["small", "x" * 1_200_000, "small again"]

    results = cx.complete_many("stand-in", prompts)

    assert [r.text for r in results] == ["sma", "xxx", "sma"]
    assert sum("FLATTEN" in sql for sql, _ in sent) == 3
