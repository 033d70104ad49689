"""The SQL macros that give the engine Snowflake's names for the Cortex functions.

The macros call the Python functions the engine registers (``_cortex_finetune``,
``_cortex_complete``, ``_cortex_ai_complete``, ``_cortex_count_tokens``, ``_cortex_account``; see
:mod:`cortex_tune._backends._engine`), passing ``current_database()`` and ``current_schema()``
along so each call runs in the calling session's context. Documented Snowflake functions that
fakesnow lacks are macros here too (``AS_VARCHAR``, the session context functions).
"""

from __future__ import annotations

import uuid
from typing import Any

from cortex_tune._emulator import EngineError

_FINETUNE_ARGS = ["c", "a", "b", "d", "e", "o"]
_CONTEXT = "current_database(), current_schema()"


def catalog_sql() -> list[str]:
    """The SNOWFLAKE catalog and its SNOWFLAKE.CORTEX macros, one overload per arity."""

    def finetune(n: int) -> str:
        args = [f"CAST({a} AS VARCHAR)" for a in _FINETUNE_ARGS[:n]]
        if n == 6:
            args[5] = "CAST(to_json(o) AS VARCHAR)"
        call = f"_cortex_finetune({', '.join(args + ['NULL'] * (6 - n))}, {_CONTEXT})"
        # SHOW returns an ARRAY in Snowflake: JSON lets FLATTEN and ':' paths read it directly.
        body = f"CAST({call} AS JSON)" if n == 1 else call
        return f"({', '.join(_FINETUNE_ARGS[:n])}) AS {body}"

    def complete(try_: str) -> str:
        return (
            f"(m, p) AS _cortex_complete(CAST(m AS VARCHAR), CAST(p AS VARCHAR), NULL, FALSE, "
            f"{try_}, {_CONTEXT}), "
            f"(m, p, o) AS _cortex_complete(CAST(m AS VARCHAR), CAST(to_json(p) AS VARCHAR), "
            f"CAST(to_json(o) AS VARCHAR), TRUE, {try_}, {_CONTEXT})"
        )

    overloads = ", ".join(finetune(n) for n in range(1, 7))
    return [
        "ATTACH IF NOT EXISTS ':memory:' AS SNOWFLAKE",
        "CREATE SCHEMA IF NOT EXISTS SNOWFLAKE.CORTEX",
        f"CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.FINETUNE {overloads}",
        f"CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.COMPLETE {complete('FALSE')}",
        f"CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.TRY_COMPLETE {complete('TRUE')}",
        "CREATE OR REPLACE MACRO SNOWFLAKE.CORTEX.COUNT_TOKENS (m, t) AS _cortex_count_tokens("
        f"FALSE, NULL, CAST(m AS VARCHAR), CAST(t AS VARCHAR), {_CONTEXT})",
    ]


_SESSION_SQL = [
    "CREATE OR REPLACE TEMP MACRO AI_COMPLETE(model, prompt, model_parameters := NULL, "
    "response_format := NULL, show_details := NULL, return_error_details := NULL) AS "
    "_cortex_ai_complete(CAST(model AS VARCHAR), CAST(prompt AS VARCHAR), "
    "CAST(to_json(model_parameters) AS VARCHAR), CAST(to_json(response_format) AS VARCHAR), "
    f"CAST(show_details AS BOOLEAN), CAST(return_error_details AS BOOLEAN), {_CONTEXT})",
    "CREATE OR REPLACE TEMP MACRO AI_COUNT_TOKENS(f, m, t) AS _cortex_count_tokens("
    f"TRUE, CAST(f AS VARCHAR), CAST(m AS VARCHAR), CAST(t AS VARCHAR), {_CONTEXT})",
    # Session facts that `doctor` asks about: the emulator needs no warehouse; roles come from
    # the emulated account (account.Account), as Snowflake documents each function.
    "CREATE OR REPLACE TEMP MACRO CURRENT_WAREHOUSE() AS 'CORTEX_LOCAL_EMULATOR'",
    *(
        f"CREATE OR REPLACE TEMP MACRO {fact}() AS _cortex_account('{fact}', NULL, NULL, NULL, NULL)"
        for fact in ("CURRENT_ROLE", "CURRENT_SECONDARY_ROLES")
    ),
    "CREATE OR REPLACE TEMP MACRO SYS_CONTEXT(n, f, a) AS _cortex_account('SYS_CONTEXT', "
    "CAST(n AS VARCHAR), CAST(f AS VARCHAR), CAST(a AS VARCHAR), current_database())",
    "CREATE OR REPLACE TEMP MACRO IS_DATABASE_ROLE_IN_SESSION(r) AS CAST(_cortex_account("
    "'IS_DATABASE_ROLE_IN_SESSION', CAST(r AS VARCHAR), NULL, NULL, current_database()) AS BOOLEAN)",
    # AS_CHAR / AS_VARCHAR: "If the type of the value in the variant_expr argument doesn't match
    # the type of the output value, the function returns NULL." (fakesnow has neither.)
    *(
        f"CREATE OR REPLACE TEMP MACRO {name}(v) AS CASE WHEN json_type(CAST(v AS JSON)) = "
        "'VARCHAR' THEN CAST(v AS JSON) ->> '$' ELSE NULL END"
        for name in ("AS_CHAR", "AS_VARCHAR")
    ),
]


def install_session(duck: Any) -> None:
    """Create the per-session AI_COMPLETE / AI_COUNT_TOKENS macros on one DuckDB cursor."""
    for sql in _SESSION_SQL:
        duck.execute(sql)


def show_from_account(
    conn: Any, command: str, params: Any, kwargs: dict[str, Any]
) -> tuple[str, Any, dict[str, Any]]:
    """The SHOW statements the emulated account answers (account.Account.show), as a SELECT of
    their documented columns; any other statement is returned unchanged. fakesnow does not know
    these forms: its parser would log a warning for each and then fail."""
    engine = getattr(conn, "engine", None)
    bound = params if params is not None else kwargs.get("binding_params")
    try:
        shown = None if engine is None else engine.account.show(command, bound, conn.database)
    except EngineError as exc:
        raise exc.to_connector_error(str(uuid.uuid4())) from None
    if shown is None:
        return command, params, kwargs
    columns, rows = shown
    names = ", ".join(f'"{name}"' for name, _ in columns)
    cell = "NULL" if not rows else "?"
    row = "(" + ", ".join(f"CAST({cell} AS {kind})" for _, kind in columns) + ")"
    values = ", ".join([row] * max(len(rows), 1))
    sql = f"SELECT * FROM (VALUES {values}) AS t({names})" + ("" if rows else " WHERE FALSE")  # noqa: S608
    rest = {k: v for k, v in kwargs.items() if k != "binding_params"}
    return sql, [v for r in rows for v in r], rest
