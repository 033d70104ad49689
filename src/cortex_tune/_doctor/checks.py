"""``cx.doctor()`` / ``cortex-tune doctor``: is this connection ready for Cortex fine-tuning?

Each check runs one small read-only statement and reports one line: what it found, what it
checked, and a remedy when it did not pass. A check that cannot tell (a privilege the role may
lack, a grant that may come through an inherited role) says so: it never passes or fails on a
guess. The checks spend no fine-tuning credits; the base-model check asks for one token of
completion. Every Snowflake behaviour read here is documented; see docs/snowflake-contract.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cortex_tune._core.errors import CortexError, UnknownModelError
from cortex_tune._doctor.report import Check, DoctorReport, State
from cortex_tune.sql import Statement

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

__all__ = ["BASE_MODELS", "CHECKS", "Check", "DoctorReport", "State", "doctor"]


#: Base models the checks probe, in order: llama3.1-8b, the one base the newest fine-tuning
#: reference lists and not a legacy model; then mistral-7b, legacy ("If your account had not
#: used the model anywhere before the legacy date, the account can't start using it."), which
#: older accounts keep. One that answers is enough.
BASE_MODELS = ("llama3.1-8b", "mistral-7b")
_ACTIVATED = "SYS_CONTEXT('SNOWFLAKE$SESSION', 'IS_DATABASE_ROLE_ACTIVATED', '{}')"
_ROLES = ("SNOWFLAKE.CORTEX_USER", "SNOWFLAKE.AI_FUNCTIONS_USER")
_SESSION_SQL = (
    "SELECT CURRENT_ROLE(), CURRENT_SECONDARY_ROLES(), CURRENT_DATABASE(), CURRENT_SCHEMA()"
)
_EVERYONE = {"PUBLIC", "SNOWFLAKE.PUBLIC"}


@dataclass(frozen=True)
class _Session:
    role: str
    secondary: tuple[str, ...]
    database: str | None
    schema: str | None

    @property
    def roles(self) -> set[str]:
        """The roles whose privileges this session uses directly."""
        return {self.role, *self.secondary}


class _Probe:
    """What the checks share: the client and, read once, the session's role and schema."""

    def __init__(self, cx: Cortex) -> None:
        self.cx = cx
        self._session: _Session | CortexError | None = None

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run a read-only statement; rows as dicts keyed by lower-case column name."""
        result = self.cx._execute(Statement(sql, params, "doctor"))
        columns = [c.lower() for c in result.columns]
        return [dict(zip(columns, row, strict=False)) for row in result.rows]

    def one(self, sql: str) -> tuple[Any, ...]:
        """The first row of a one-row statement."""
        rows = self.cx._execute(Statement(sql, (), "doctor")).rows
        return rows[0] if rows else ()

    def role_name(self) -> str:
        """The current role for a remedy line, or a placeholder when it cannot be read."""
        try:
            return self.session().role or "<your role>"
        except CortexError:
            return "<your role>"

    def session(self) -> _Session:
        """The session's role, secondary roles, database and schema (read once)."""
        if self._session is None:
            try:
                role, secondary, database, schema = (*self.one(_SESSION_SQL), None, None, None)[:4]
                self._session = _Session(str(role or ""), _secondary(secondary), database, schema)
            except CortexError as exc:
                self._session = exc
        if isinstance(self._session, CortexError):
            raise self._session
        return self._session


def _secondary(value: Any) -> tuple[str, ...]:
    # CURRENT_SECONDARY_ROLES() is JSON text: {"roles": "R1,R2", "value": "ALL"}.
    try:
        roles = json.loads(value).get("roles") or ""
    except (TypeError, ValueError, AttributeError):
        return ()
    return tuple(r.strip() for r in str(roles).split(",") if r.strip())


def _connection(probe: _Probe) -> Check:
    sql = "SELECT CURRENT_VERSION()"
    (version,) = probe.one(sql) or (None,)
    return Check("connection", "ok", f"connected (Snowflake {version})", checked=sql)


def _warehouse(probe: _Probe) -> Check:
    sql = "SELECT CURRENT_WAREHOUSE()"
    (warehouse,) = probe.one(sql) or (None,)
    if warehouse:
        return Check("warehouse", "ok", f"using {warehouse}", checked=sql)
    remedy = "set 'warehouse' in the connection, or run USE WAREHOUSE <name>"
    return Check("warehouse", "fail", "no warehouse in use", remedy, sql)


def _role(probe: _Probe) -> Check:
    s = probe.session()
    secondary = ", ".join(s.secondary) or "none"
    where = f"schema {s.database}.{s.schema}" if s.database and s.schema else "no current schema"
    detail = f"{s.role or 'no role'} (secondary roles: {secondary}); {where}"
    return Check("role", "ok", detail, checked=_SESSION_SQL)


def _cortex_role(probe: _Probe) -> Check:
    sql = "SELECT " + ", ".join(_ACTIVATED.format(r) for r in _ROLES)
    cortex, ai = (str(v).upper() == "TRUE" for v in (*probe.one(sql), None, None)[:2])
    remedy = (
        f"GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE {probe.role_name()} (as ACCOUNTADMIN)"
    )
    if cortex:
        detail = "SNOWFLAKE.CORTEX_USER is active in this session (primary or secondary roles)"
        return Check("cortex role", "ok", detail, checked=sql)
    if ai:
        detail = (
            "only SNOWFLAKE.AI_FUNCTIONS_USER is active: it grants the AI functions, while the "
            "fine-tuning docs ask for SNOWFLAKE.CORTEX_USER to call FINETUNE"
        )
        return Check("cortex role", "unknown", detail, remedy, sql)
    detail = "neither SNOWFLAKE.CORTEX_USER nor SNOWFLAKE.AI_FUNCTIONS_USER is active"
    return Check("cortex role", "fail", detail, remedy, sql)


def _grantees(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({f"{r.get('grantee_name')} ({r.get('granted_to')})" for r in rows})


def _use_ai_functions(probe: _Probe) -> Check:
    sql = "SHOW GRANTS ON ACCOUNT"
    rows = [
        r
        for r in probe.run(sql)
        if str(r.get("privilege", "")).upper()
        in {"USE AI FUNCTIONS", "USE AI FUNCTION AI_COMPLETE", "USE AI FUNCTION COMPLETE"}
    ]
    s = probe.session()
    remedy = (
        f"GRANT USE AI FUNCTIONS ON ACCOUNT TO ROLE {s.role or '<your role>'} (as ACCOUNTADMIN)"
    )
    mine = [r for r in rows if str(r.get("grantee_name")) in _EVERYONE | s.roles]
    if mine:
        who = ", ".join(sorted({str(r.get("grantee_name")) for r in mine}))
        detail = f"{mine[0].get('privilege')} is granted to {who}, which this session uses"
        return Check("use ai functions", "ok", detail, checked=sql)
    if rows:
        detail = (
            f"granted to {', '.join(_grantees(rows))}, not to this session's roles: it applies "
            "only if they inherit one of those (could not tell)"
        )
    else:
        detail = (
            "no USE AI FUNCTIONS grant is visible to this role (SHOW GRANTS lists only what the "
            "role may see; could not tell)"
        )
    return Check("use ai functions", "unknown", detail, remedy, sql)


def _create_model(probe: _Probe) -> Check:
    s = probe.session()
    if not (s.database and s.schema):
        detail = "no current schema: FINETUNE saves an unqualified model name there"
        remedy = "USE SCHEMA <db>.<schema>, or name models DB.SCHEMA.NAME"
        return Check("create model", "unknown", detail, remedy, _SESSION_SQL)
    sql = "SHOW GRANTS ON SCHEMA IDENTIFIER(?)"
    schema = f"{_quote(s.database)}.{_quote(s.schema)}"
    rows = [
        r
        for r in probe.run(sql, (schema,))
        if str(r.get("privilege", "")).upper() in {"CREATE MODEL", "OWNERSHIP"}
    ]
    where = f"{s.database}.{s.schema}"
    remedy = f"GRANT CREATE MODEL ON SCHEMA {where} TO ROLE {s.role or '<your role>'}"
    checked = f"SHOW GRANTS ON SCHEMA {where}"
    for r in rows:
        if str(r.get("granted_to", "")).upper() == "ROLE" and r.get("grantee_name") == s.role:
            detail = f"{r.get('privilege')} on {where} is granted to {s.role}, the current role"
            return Check("create model", "ok", detail, checked=checked)
    if rows:
        detail = (
            f"CREATE MODEL / OWNERSHIP on {where} is granted to {', '.join(_grantees(rows))}, "
            f"not to the current role {s.role}: it applies only if {s.role} inherits one of them "
            "(CREATE is authorized by the primary role; secondary roles do not count)"
        )
    else:
        detail = f"no CREATE MODEL or OWNERSHIP grant on {where} is visible to {s.role}"
    return Check("create model", "unknown", detail, remedy, checked)


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


_PARAMETER_SQL = {
    "CORTEX_ENABLED_CROSS_REGION": "SHOW PARAMETERS LIKE 'CORTEX_ENABLED_CROSS_REGION' IN ACCOUNT",
    "CORTEX_MODELS_ALLOWLIST": "SHOW PARAMETERS LIKE 'CORTEX_MODELS_ALLOWLIST' IN ACCOUNT",
}


def _parameter(probe: _Probe, name: str) -> tuple[str | None, str]:
    """An account parameter's value, read the documented way (None when not listed)."""
    sql = _PARAMETER_SQL[name]
    values = [r.get("value") for r in probe.run(sql) if str(r.get("key", "")).upper() == name]
    return (None if not values or values[0] is None else str(values[0])), sql


def _cross_region(probe: _Probe) -> Check:
    value, sql = _parameter(probe, "CORTEX_ENABLED_CROSS_REGION")
    tuned = (
        "fine-tuned models are never served cross-region: they answer only in the region of "
        "their model object (replicate it to use it elsewhere)"
    )
    remedy = (
        "to reach base models offered in other regions: ALTER ACCOUNT SET "
        "CORTEX_ENABLED_CROSS_REGION = 'ANY_REGION' (as ACCOUNTADMIN)"
    )
    if value is None:
        detail = "the parameter is not listed for this role (could not tell)"
        return Check("cross-region", "unknown", detail, remedy, sql)
    if value.upper() == "DISABLED":
        detail = f"DISABLED: inference runs in this account's region only; {tuned}"
    else:
        detail = f"{value}: base models not offered here may be served from {value}; {tuned}"
    return Check("cross-region", "ok", detail, remedy, sql)


def _allowlist(probe: _Probe) -> Check:
    value, sql = _parameter(probe, "CORTEX_MODELS_ALLOWLIST")
    s = probe.session()
    listed = {m.strip().lower() for m in (value or "").split(",")}
    model = next((m for m in BASE_MODELS if m in listed), BASE_MODELS[0])
    remedy = (
        f'GRANT APPLICATION ROLE SNOWFLAKE."CORTEX-MODEL-ROLE-{model.upper()}" TO ROLE '
        f"{s.role or '<your role>'}, or add {model} to CORTEX_MODELS_ALLOWLIST (as ACCOUNTADMIN)"
    )
    if "ACCOUNTADMIN" in {r.upper() for r in s.roles}:
        detail = f"ACCOUNTADMIN may use every model whatever the allowlist ({value})"
        return Check("model allowlist", "ok", detail, checked=sql)
    if value is not None and ("all" in listed or model in listed):
        detail = f"{value}: {model} is allowed for COMPLETE / AI_COMPLETE"
        return Check("model allowlist", "ok", detail, checked=sql)
    if value is None:
        detail = "the parameter is not listed (it is being removed in 2026): model RBAC decides"
    else:
        detail = f"{value}: {model} is not in the allowlist"
    detail += (
        f"; {model} is usable only through model RBAC (SNOWFLAKE.MODELS application roles), "
        "which cortex-tune cannot read (could not tell; the base-model check answers it)"
    )
    return Check("model allowlist", "unknown", detail, remedy, sql)


def _generations(probe: _Probe) -> Check:
    """Which function generation answers: AI_COUNT_TOKENS returns NULL when it cannot count
    (an unknown or unavailable model), which shows the function exists but proves nothing."""
    works: list[str] = []
    unsure: list[str] = []
    tried: list[str] = []
    model = BASE_MODELS[0]
    for name, sql in (
        ("AI_COMPLETE", f"SELECT AI_COUNT_TOKENS('ai_complete', '{model}', 'ok')"),
        ("legacy COMPLETE", f"SELECT SNOWFLAKE.CORTEX.COUNT_TOKENS('{model}', 'ok')"),
    ):
        tried.append(sql)
        try:
            (count,) = probe.one(sql) or (None,)
        except CortexError:
            continue
        (works if count is not None else unsure).append(name)
    checked = "; ".join(tried)
    null = f"{' and '.join(unsure)} answered NULL (could not count with {model})"
    if works:
        detail = f"available: {', '.join(works)}" + (f"; {null}" if unsure else "")
        return Check("functions", "ok", detail, checked=checked)
    remedy = "grant SNOWFLAKE.CORTEX_USER, and check the account's region supports Cortex"
    if unsure:
        return Check("functions", "unknown", f"{null}: could not tell", remedy, checked)
    detail = "neither AI_* nor SNOWFLAKE.CORTEX functions answer"
    return Check("functions", "fail", detail, remedy, checked)


def _base_model(probe: _Probe) -> Check:
    """A one-token completion from each of BASE_MODELS in turn, until one answers."""
    checked = f"a one-token completion from {' or '.join(BASE_MODELS)}, until one answers"
    models = [m for m in BASE_MODELS if not _emulator_without(probe.cx, m)]
    if not models:
        detail = f"not applicable on the emulator: no stand-in is registered for {BASE_MODELS[0]}"
        remedy = f"register one: cx.backend.register_model({BASE_MODELS[0]!r}, fn) (or a URL)"
        return Check("base model", "skip", detail, remedy, checked)
    refused = []
    for model in models:
        try:
            probe.cx.complete(model, "Reply with OK.", max_tokens=1)
        except UnknownModelError:
            refused.append(model)
            continue
        tried = f" ({', '.join(refused)} did not answer)" if refused else ""
        return Check("base model", "ok", f"{model} answers{tried}", checked=checked)
    remedy = (
        "check the region offers them, or ALTER ACCOUNT SET CORTEX_ENABLED_CROSS_REGION = "
        "'ANY_REGION' (as ACCOUNTADMIN); check CORTEX_MODELS_ALLOWLIST and model RBAC"
    )
    detail = f"{' and '.join(refused)}: not available to this role in this region"
    return Check("base model", "fail", detail, remedy, checked)


def _emulator_without(cx: Cortex, model: str) -> bool:
    """True on cortex-tune's emulator when no stand-in answers base model ``model``."""
    from cortex_tune._emulator import Emulator

    emulator = getattr(cx.backend, "emulator", None)
    return isinstance(emulator, Emulator) and model.strip().lower() not in emulator.models


def _connector(_probe: _Probe) -> Check:
    import snowflake.connector

    version = str(snowflake.connector.__version__)
    checked = "snowflake.connector.__version__"
    if int(version.split(".")[0]) >= 4:
        return Check("connector", "ok", f"snowflake-connector-python {version}", checked=checked)
    remedy = "pip install -U 'snowflake-connector-python>=4.8'"
    return Check("connector", "fail", f"snowflake-connector-python {version}", remedy, checked)


CHECKS: list[tuple[str, Callable[[_Probe], Check]]] = [
    ("connection", _connection),
    ("warehouse", _warehouse),
    ("role", _role),
    ("cortex role", _cortex_role),
    ("use ai functions", _use_ai_functions),
    ("create model", _create_model),
    ("cross-region", _cross_region),
    ("model allowlist", _allowlist),
    ("functions", _generations),
    ("base model", _base_model),
    ("connector", _connector),
]


def doctor(cx: Cortex) -> DoctorReport:
    """Run every check; a check that errors says it could not tell, with the error; none raises."""
    probe, checks = _Probe(cx), []
    for name, check in CHECKS:
        try:
            checks.append(check(probe))
        except CortexError as exc:
            state: State = "fail" if name == "connection" else "unknown"
            first_line = exc.message.strip().splitlines()[0] if exc.message.strip() else ""
            detail = f"could not tell ({type(exc).__name__}: {first_line})"
            checks.append(Check(name, state, detail, exc.hint))
            if name == "connection":
                break
    return DoctorReport(checks)
