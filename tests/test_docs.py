"""The README's code runs: every python block, in order, on the embedded emulator.

Blocks that connect to Snowflake run against a local engine: ``snowflake.connector.connect``
is pointed at fakesnow for the duration, and ``conn`` / ``get_active_session`` are provided.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

fakesnow = pytest.importorskip("fakesnow.instance")

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


class _Frame:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def collect(self) -> list[Any]:
        return self.rows


class _Session:
    """The part of a Snowpark session cortex-tune uses, over a local engine."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def sql(self, query: str, params: list[Any] | None = None) -> _Frame:
        cursor = self.conn.cursor()
        cursor.execute(query, params)
        return _Frame(cursor.fetchall())


def blocks() -> list[str]:
    return BLOCK.findall(README.read_text("utf-8"))


def test_readme_has_the_two_commands_first() -> None:
    text = README.read_text("utf-8")
    first = text.split("\n## ", 1)[0]
    commands = re.findall(r"^(python3 tasks\.py \w+)", first, re.M)
    assert commands == ["python3 tasks.py demo", "python3 tasks.py test"]
    ci = (README.parent / ".ci" / "run").read_text("utf-8")
    assert "python3 tasks.py test" in ci


def test_readme_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import snowflake.connector

    engine = fakesnow.FakeSnow()

    def connect(**kwargs: Any) -> Any:
        return engine.connect(
            database="DOCS", schema="PUBLIC", paramstyle=kwargs.get("paramstyle", "qmark")
        )

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    # The connections the README's blocks name, as the connector reads them from the environment.
    monkeypatch.setenv(
        "SNOWFLAKE_CONNECTIONS", '[default]\naccount = "docs"\n[prod]\naccount = "docs"\n'
    )
    conn = engine.connect(database="DOCS", schema="PUBLIC")
    namespace: dict[str, Any] = {
        "conn": conn,
        "get_active_session": lambda: _Session(engine.connect(database="DOCS", schema="PUBLIC")),
        "__name__": "readme",
    }
    found = blocks()
    assert len(found) >= 5
    for number, code in enumerate(found, 1):
        try:
            exec(compile(code, f"README.md block {number}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README block {number} failed: {type(exc).__name__}: {exc}\n{code}")
