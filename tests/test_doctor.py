"""doctor on the emulator, and the emulated account answering doctor's statements as
Snowflake documents them (SYS_CONTEXT, IS_DATABASE_ROLE_IN_SESSION, SHOW GRANTS, SHOW
PARAMETERS)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cortex_tune import Cortex, DoctorReport

pytest.importorskip("fakesnow")

from cortex_tune._emulator.account import Account, Grant
from cortex_tune.sql import Statement

ACTIVATED = "SELECT SYS_CONTEXT('SNOWFLAKE$SESSION', 'IS_DATABASE_ROLE_ACTIVATED', ?)"


@pytest.fixture
def local() -> Iterator[Cortex]:
    with Cortex.local() as cx:
        yield cx


def _doctor(account: Account | None = None) -> DoctorReport:
    with Cortex.local(account=account) as cx:
        return cx.doctor()


def _check(report: DoctorReport, name: str) -> tuple[str, str]:
    (check,) = [c for c in report.checks if c.name == name]
    return check.state, check.detail


# -- the emulated account, function by function --------------------------------------------------


def test_sys_context_answers_varchar_for_either_name_form(local: Cortex) -> None:
    assert local.sql(ACTIVATED, ["SNOWFLAKE.CORTEX_USER"]) == [("TRUE",)]
    assert local.sql(ACTIVATED, ["snowflake.cortex_user"]) == [("TRUE",)]
    # A relative name resolves in the current database (CORTEX_LOCAL has no such role).
    assert local.sql(ACTIVATED, ["CORTEX_USER"]) == [("FALSE",)]
    local.sql("USE DATABASE SNOWFLAKE")
    assert local.sql(ACTIVATED, ["CORTEX_USER"]) == [("TRUE",)]


def test_sys_context_is_false_when_the_session_lacks_the_role() -> None:
    with Cortex.local(account=Account(database_roles=())) as cx:
        assert cx.sql(ACTIVATED, ["SNOWFLAKE.CORTEX_USER"]) == [("FALSE",)]


def test_is_database_role_in_session_takes_relative_names_only(local: Cortex) -> None:
    sql = "SELECT IS_DATABASE_ROLE_IN_SESSION(?)"
    assert local.sql(sql, ["SNOWFLAKE.CORTEX_USER"]) == [(False,)]
    assert local.sql(sql, ["CORTEX_USER"]) == [(False,)]  # current database: CORTEX_LOCAL
    local.sql("USE DATABASE SNOWFLAKE")
    assert local.sql(sql, ["CORTEX_USER"]) == [(True,)]
    assert local.sql(sql, ["SNOWFLAKE.CORTEX_USER"]) == [(False,)]


def test_current_role_and_secondary_roles_come_from_the_account() -> None:
    account = Account(role="ANALYST", secondary_roles=("LOADER", "READER"))
    with Cortex.local(account=account) as cx:
        (role, secondary) = cx.sql("SELECT CURRENT_ROLE(), CURRENT_SECONDARY_ROLES()")[0]
    assert role == "ANALYST"
    assert secondary == '{"roles":"LOADER,READER","value":"LOADER,READER"}'


def test_show_statements_have_the_documented_columns(local: Cortex) -> None:
    backend = local.backend
    grants = backend.execute(Statement("SHOW GRANTS ON SCHEMA IDENTIFIER(?)", ("PUBLIC",), "t"))
    assert grants.columns == [
        "created_on",
        "privilege",
        "granted_on",
        "name",
        "granted_to",
        "grantee_name",
        "grant_option",
        "granted_by_role_type",
        "granted_by",
    ]
    assert [r[1:6] for r in grants.rows] == [
        ("OWNERSHIP", "SCHEMA", "CORTEX_LOCAL.PUBLIC", "ROLE", "SYSADMIN")
    ]
    parameters = backend.execute(Statement("SHOW PARAMETERS LIKE 'CORTEX_%' IN ACCOUNT", (), "t"))
    assert parameters.columns == ["key", "value", "default", "level", "description"]
    assert [r[:4] for r in parameters.rows] == [
        ("CORTEX_ENABLED_CROSS_REGION", "DISABLED", "DISABLED", ""),
        ("CORTEX_MODELS_ALLOWLIST", "All", "All", ""),
    ]


# -- doctor's checks -----------------------------------------------------------------------------


def test_doctor_passes_on_a_default_emulator_and_says_what_it_checked() -> None:
    report = _doctor()
    assert report.ok
    states = {c.name: c.state for c in report.checks}
    assert states.pop("base model") == "skip"
    assert set(states.values()) == {"ok"}
    assert all(c.checked for c in report.checks)
    text = str(report)
    assert "checked: SHOW GRANTS ON SCHEMA CORTEX_LOCAL.PUBLIC" in text
    assert "not applicable on the emulator" in text
    assert text.splitlines()[-1] == "ready: no check failed (10 ok, 0 failed, 1 skipped)"


def test_base_model_with_a_stand_in_answers() -> None:
    with Cortex.local() as cx:
        cx.backend.register_model("mistral-7b", lambda _request: "OK")  # type: ignore[attr-defined]
        assert _check(cx.doctor(), "base model") == ("ok", "mistral-7b answers")


@pytest.mark.parametrize(
    ("unavailable", "state", "detail"),
    [
        ([], "ok", "llama3.1-8b answers"),
        (["mistral-7b"], "ok", "llama3.1-8b answers"),
        (["llama3.1-8b"], "ok", "mistral-7b answers (llama3.1-8b did not answer)"),
        (["llama3.1-8b", "mistral-7b"], "fail", "llama3.1-8b and mistral-7b: not available"),
    ],
)
def test_base_model_probes_a_current_model_first_and_says_which_answered(
    unavailable: list[str], state: str, detail: str
) -> None:
    # C-LIMITS-06: "If your account had not used the model anywhere before the legacy date,
    # the account can't start using it." An account without mistral-7b is not failed for it.
    with Cortex.local(unavailable_models=unavailable) as cx:
        for model in ("llama3.1-8b", "mistral-7b"):
            cx.backend.register_model(model, lambda _request: "OK")  # type: ignore[attr-defined]
        found, text = _check(cx.doctor(), "base model")
    assert found == state
    assert text.startswith(detail)


def test_a_null_token_count_does_not_pass_the_functions_check() -> None:
    # C-TOKENS-02: AI_COUNT_TOKENS "returns NULL" when it cannot count: the function ran, but
    # that proves nothing about the model.
    with Cortex.local(unavailable_models=["llama3.1-8b"]) as cx:
        state, detail = _check(cx.doctor(), "functions")
    assert state == "unknown"
    assert "AI_COMPLETE answered NULL (could not count with llama3.1-8b)" in detail


def test_missing_cortex_role_fails_the_role_check() -> None:
    report = _doctor(Account(role="ANALYST", database_roles=()))
    (check,) = [c for c in report.checks if c.name == "cortex role"]
    assert check.state == "fail"
    assert not report.ok
    assert check.remedy == (
        "GRANT DATABASE ROLE SNOWFLAKE.CORTEX_USER TO ROLE ANALYST (as ACCOUNTADMIN)"
    )


def test_ai_functions_user_alone_cannot_be_told_ready_for_finetune() -> None:
    report = _doctor(Account(database_roles=("SNOWFLAKE.AI_FUNCTIONS_USER",)))
    state, detail = _check(report, "cortex role")
    assert state == "unknown"
    assert "AI_FUNCTIONS_USER" in detail


def test_create_model_granted_to_the_current_role_is_ok() -> None:
    account = Account(role="ANALYST", schema_grants=(Grant("CREATE MODEL", "ANALYST"),))
    state, detail = _check(_doctor(account), "create model")
    assert state == "ok"
    assert detail == "CREATE MODEL on CORTEX_LOCAL.PUBLIC is granted to ANALYST, the current role"


def test_create_model_granted_only_to_another_role_is_not_ok() -> None:
    account = Account(
        role="ANALYST",
        secondary_roles=("BUILDER",),
        schema_grants=(Grant("OWNERSHIP", "SYSADMIN"), Grant("CREATE MODEL", "BUILDER")),
    )
    state, detail = _check(_doctor(account), "create model")
    assert state == "unknown"
    assert "BUILDER (ROLE), SYSADMIN (ROLE)" in detail
    assert "secondary roles do not count" in detail


def test_create_model_grant_on_another_schema_does_not_count() -> None:
    grant = Grant("CREATE MODEL", "SYSADMIN", on="CORTEX_LOCAL.OTHER")
    state, detail = _check(_doctor(Account(schema_grants=(grant,))), "create model")
    assert state == "unknown"
    assert "no CREATE MODEL or OWNERSHIP grant on CORTEX_LOCAL.PUBLIC" in detail


def test_use_ai_functions_granted_elsewhere_cannot_be_told() -> None:
    assert _check(_doctor(), "use ai functions")[0] == "ok"
    account = Account(account_grants=(Grant("USE AI FUNCTIONS", "CORTEX_ROLE"),))
    state, detail = _check(_doctor(account), "use ai functions")
    assert state == "unknown"
    assert "CORTEX_ROLE (ROLE)" in detail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "DISABLED: inference runs in this account's region only"),
        ("ANY_REGION", "ANY_REGION: base models not offered here may be served from ANY_REGION"),
        ("AWS_US,AWS_EU", "AWS_US,AWS_EU: base models not offered here may be served"),
    ],
)
def test_cross_region_value_is_read_and_explained(value: str | None, expected: str) -> None:
    parameters = {} if value is None else {"CORTEX_ENABLED_CROSS_REGION": value}
    state, detail = _check(_doctor(Account(parameters=parameters)), "cross-region")
    assert state == "ok"
    assert detail.startswith(expected)
    assert "fine-tuned models are never served cross-region" in detail


@pytest.mark.parametrize(
    ("role", "allowlist", "state"),
    [
        ("SYSADMIN", "All", "ok"),
        ("SYSADMIN", "mistral-7b,llama3.1-70b", "ok"),
        ("SYSADMIN", "llama3.1-70b", "unknown"),
        ("SYSADMIN", "None", "unknown"),
        ("ACCOUNTADMIN", "None", "ok"),
    ],
)
def test_model_allowlist(role: str, allowlist: str, state: str) -> None:
    account = Account(role=role, parameters={"CORTEX_MODELS_ALLOWLIST": allowlist})
    found, detail = _check(_doctor(account), "model allowlist")
    assert found == state
    if state == "unknown":
        assert "model RBAC" in detail


# -- the command line ----------------------------------------------------------------------------


def test_cli_doctor_on_the_emulator_exits_0_with_nothing_on_stderr(tmp_path: Path) -> None:
    env = {**os.environ, "SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "cortex_tune", "--local", str(tmp_path / "store"), "doctor"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.stderr == ""
    assert done.returncode == 0, done.stdout
    assert "ready: no check failed" in done.stdout
    assert "[skip] base model: not applicable on the emulator" in done.stdout
