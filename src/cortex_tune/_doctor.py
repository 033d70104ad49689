"""``cx.doctor()`` / ``cortex-tune doctor``: is this connection ready for Cortex fine-tuning?

Each check runs one small statement and reports one line, with a remedy when it fails. The
checks spend no fine-tuning credits; the base-model check asks for one token of completion.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cortex_tune._errors import CortexError, UnknownModelError
from cortex_tune.sql import Statement

if TYPE_CHECKING:
    from cortex_tune._client import Cortex

State = Literal["ok", "fail", "unknown"]


@dataclass(frozen=True)
class Check:
    """One doctor check: what was checked, how it went, and what to do if it failed."""

    name: str
    state: State
    detail: str
    remedy: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    """Every check, in order. ``ok`` is True when none failed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (unknown ones do not count as failures)."""
        return all(c.state != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with stable keys."""
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}

    def __str__(self) -> str:
        marks = {"ok": "ok  ", "fail": "FAIL", "unknown": "??  "}
        lines = []
        for c in self.checks:
            lines.append(f"[{marks[c.state]}] {c.name}: {c.detail}")
            if c.remedy and c.state != "ok":
                lines.append(f"       -> {c.remedy}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.state)}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(c.detail)}</td><td>{html.escape(c.remedy or '')}</td></tr>"
            for c in self.checks
        )
        return (
            f"<table><tr><th></th><th>check</th><th>detail</th><th>remedy</th></tr>{rows}</table>"
        )


def _one(cx: Cortex, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = cx._execute(Statement(sql, params, "doctor"), retry=False).rows
    return rows[0][0] if rows and rows[0] else None


def _connection(cx: Cortex) -> Check:
    version = _one(cx, "SELECT CURRENT_VERSION()")
    return Check("connection", "ok", f"connected (Snowflake {version})")


def _warehouse(cx: Cortex) -> Check:
    warehouse = _one(cx, "SELECT CURRENT_WAREHOUSE()")
    if warehouse:
        return Check("warehouse", "ok", f"using {warehouse}")
    return Check(
        "warehouse",
        "fail",
        "no warehouse in use",
        "set 'warehouse' in the connection, or run USE WAREHOUSE <name>",
    )


def _cortex_role(cx: Cortex) -> Check:
    for role in ("SNOWFLAKE.CORTEX_USER", "SNOWFLAKE.AI_FUNCTIONS_USER"):
        if _one(cx, "SELECT IS_DATABASE_ROLE_IN_SESSION(?)", (role,)):
            return Check("cortex role", "ok", f"{role} is active in this session")
    return Check(
        "cortex role",
        "fail",
        "neither SNOWFLAKE.CORTEX_USER nor SNOWFLAKE.AI_FUNCTIONS_USER is active",
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE <your role> (as ACCOUNTADMIN)",
    )


def _create_model(cx: Cortex) -> Check:
    schema = _one(cx, "SELECT CURRENT_SCHEMA()")
    if not schema:
        return Check("create model", "fail", "no current schema", "USE SCHEMA <db>.<schema>")
    rows = cx._execute(
        Statement("SHOW GRANTS ON SCHEMA IDENTIFIER(?)", (schema,), "doctor"), retry=False
    ).rows
    privileges = {str(r[1]).upper() for r in rows if len(r) > 1}
    if privileges & {"CREATE MODEL", "OWNERSHIP"}:
        return Check("create model", "ok", f"CREATE MODEL or OWNERSHIP granted on {schema}")
    return Check(
        "create model",
        "unknown",
        f"no direct CREATE MODEL grant on {schema} (it may come through another role)",
        f"GRANT CREATE MODEL ON SCHEMA {schema} TO ROLE <your role>",
    )


def _generations(cx: Cortex) -> Check:
    works = []
    for name, sql in (
        ("AI_COMPLETE", "SELECT AI_COUNT_TOKENS('ai_complete', 'mistral-7b', 'ok')"),
        ("legacy COMPLETE", "SELECT SNOWFLAKE.CORTEX.COUNT_TOKENS('mistral-7b', 'ok')"),
    ):
        try:
            _one(cx, sql)
            works.append(name)
        except CortexError:
            continue
    if works:
        return Check("functions", "ok", f"available: {', '.join(works)}")
    return Check(
        "functions",
        "fail",
        "neither AI_* nor SNOWFLAKE.CORTEX functions answer",
        "grant SNOWFLAKE.CORTEX_USER, and check the account's region supports Cortex",
    )


def _base_model(cx: Cortex, model: str = "mistral-7b") -> Check:
    try:
        cx.complete(model, "Reply with OK.", max_tokens=1)
    except UnknownModelError:
        return Check(
            "base model",
            "fail",
            f"{model} is not available to this account",
            "ALTER ACCOUNT SET CORTEX_ENABLED_CROSS_REGION = 'ANY_REGION' (as ACCOUNTADMIN), "
            "or check CORTEX_MODELS_ALLOWLIST; on the emulator register a stand-in model",
        )
    return Check("base model", "ok", f"{model} answers in this region")


def _connector(_cx: Cortex) -> Check:
    import snowflake.connector

    version = str(snowflake.connector.__version__)
    major = int(version.split(".")[0])
    if major >= 4:
        return Check("connector", "ok", f"snowflake-connector-python {version}")
    return Check(
        "connector",
        "fail",
        f"snowflake-connector-python {version}",
        "pip install -U 'snowflake-connector-python>=4.8'",
    )


CHECKS: list[tuple[str, Callable[[Cortex], Check]]] = [
    ("connection", _connection),
    ("warehouse", _warehouse),
    ("cortex role", _cortex_role),
    ("create model", _create_model),
    ("functions", _generations),
    ("base model", _base_model),
    ("connector", _connector),
]


def doctor(cx: Cortex) -> DoctorReport:
    """Run every check; a check that errors is reported with the error, never raised."""
    checks = []
    for name, check in CHECKS:
        try:
            checks.append(check(cx))
        except CortexError as exc:
            state: State = "fail" if name == "connection" else "unknown"
            first_line = exc.message.strip().splitlines()[0] if exc.message.strip() else ""
            checks.append(
                Check(
                    name, state, f"could not check ({type(exc).__name__}: {first_line})", exc.hint
                )
            )
            if name == "connection":
                break
    return DoctorReport(checks)
