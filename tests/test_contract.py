"""docs/snowflake-contract.md: every row rests on the documentation (or says what is silent and
how each answer is handled), names code and tests that exist, and the emulator answers each
documented example the way the page does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from contract_rows import (
    CONTRACT,
    Check,
    Row,
    checks,
    defined_tests,
    has_documented_source,
    matches,
    missing_code_refs,
    node_ids,
    rows,
)

ROWS = rows()
CHECKS = [check for row in ROWS for check in checks(row)]


def _id(row: Row) -> str:
    return row.id


def test_the_contract_holds_every_row_once_and_nothing_left_to_do() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) > 100
    assert len(ids) == len(set(ids)), "a row id is used twice"
    text = CONTRACT.read_text("utf-8")
    assert "TODO" not in text
    assert not (CONTRACT.parent / "snowflake-contract-platform.md").exists()


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_each_row_quotes_the_docs_or_handles_every_answer_where_they_are_silent(row: Row) -> None:
    silent = row.text("Silent/conflict")
    assert has_documented_source(row) or silent, (
        f"{row.id}: a Docs field with a quote and its address, or a Silent/conflict field"
    )
    if not silent:
        return
    cases = row.cases()
    assert len(cases) >= 2, f"{row.id}: Silent/conflict lists each answer as `- (A) ...`"
    for letter, text in cases:
        assert node_ids(text), f"{row.id} ({letter}): name the test of this answer"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_each_row_names_tests_that_exist(row: Row) -> None:
    named = node_ids(row.text("Test"))
    assert named, f"{row.id}: the Test field names at least one tests/...py::test_name"
    every = named + [n for _, text in row.cases() for n in node_ids(text)]
    missing = [n for n in every if n not in defined_tests()]
    assert missing == [], f"{row.id}: no such test"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_each_row_names_the_code_that_implements_it_or_says_why_not(row: Row) -> None:
    emulator = row.text("Emulator")
    assert emulator.startswith("not emulated: ") or "::" in emulator, (
        f"{row.id}: the Emulator field names src/...py::function, or says 'not emulated: why'"
    )
    every_field = "\n".join(row.fields.values())
    assert missing_code_refs(every_field) == [], f"{row.id}: no such file or definition"


def test_each_live_probe_exists_and_settles_the_rows_that_name_it() -> None:
    from cortex_tune._conformance import all_probes

    probes = {probe.name: probe for probe in all_probes()}
    named = {row.id: row.text("Live") for row in ROWS if row.text("Live")}
    for row_id, text in named.items():
        for name in re.findall(r"`([^`]+)`", text):
            assert name in probes, f"{row_id}: no probe {name!r}"
            assert row_id in probes[name].rows, f"{row_id}: {name} does not settle it"
    ids = {row.id for row in ROWS}
    assert {r for p in probes.values() for r in p.rows} <= ids


# -- the documented examples, against the emulator ----------------------------------------------


@pytest.fixture(scope="module")
def documented() -> Iterator[Any]:
    """The account the examples assume: the database roles they name are active, the models
    they call answer (a stand-in each), and tables ``train`` and ``validation`` exist."""
    pytest.importorskip("fakesnow")
    from cortex_tune import Cortex
    from cortex_tune._emulator.account import Account

    roles = ("SNOWFLAKE.CORTEX_USER", "CORTEX_LOCAL.R1", "CORTEX_LOCAL.ANALYST_ROLE")
    cx = Cortex.local(account=Account(database_roles=(*roles, "DB2.READER_ROLE")))
    for model in ("snowflake-arctic", "deepseek-r1", "llama3.1-8b", "llama3.1-70b", "llama3.3-70b"):
        cx.backend.register_model(model, lambda request: f"an answer to {request.prompt}")  # type: ignore[attr-defined]
    for table in ("train", "validation"):
        cx.sql(
            f"CREATE TABLE {table} AS SELECT 'question ' || range AS prompt, "
            "'answer ' || range AS completion FROM range(20)"
        )
    yield cx
    cx.close()


def _run(cx: Any, check: Check) -> tuple[list[tuple[Any, ...]] | None, str | None]:
    cursor = cx.backend.connection().cursor()
    try:
        for statement in check.statements:
            cursor.execute(statement)
        return [tuple(r) for r in cursor.fetchall()], None
    except Exception as exc:  # the documented answer may be an error
        return None, str(exc)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.row)
def test_the_emulator_answers_each_documented_example(documented: Any, check: Check) -> None:
    found, error = _run(documented, check)
    assert matches(check.expected, found, error), (check.statements[-1], found, error)


def test_a_check_fails_when_the_emulator_and_the_table_disagree(documented: Any) -> None:
    qualified = "SELECT IS_DATABASE_ROLE_IN_SESSION('CORTEX_LOCAL.R1');"
    found, error = _run(documented, Check("C-PRIV-08", (qualified,), "false"))
    assert matches("false", found, error)
    assert not matches("true", found, error)  # the emulator's old answer, against the docs
    assert not matches("error /x/", found, error)
    assert not matches('shape {"a": "string"}', [('{"a": 1}',)], None)
    assert not matches("/ft_.*/", [("job",)], None)
