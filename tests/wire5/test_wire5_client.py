"""Connector 5.x through ``Cortex.connect``: login, completions, batches, jobs and SQL work."""

from __future__ import annotations

import json
import warnings

import pytest
from wire5_client import (
    CREATE,
    LOGIN,
    TRAINING,
    Wire,
    create_job,
    training_table,
)

from cortex_tune import Cortex, JobStatus
from cortex_tune._backends.snowflake import connect_params
from cortex_tune._core.constants import MARKER_PREFIX, QUERY_TAG

SENTINEL = "wire5 'quoted' \"double\" \\ $$ -- ; ? %s é 😀"


@pytest.mark.parametrize("login", ["password", "key-pair", "oauth-token"])
def test_login_then_complete(wire: Wire, login: str) -> None:
    settings = {
        "password": {},
        "key-pair": wire.key_pair(),
        "oauth-token": {
            "password": None,
            "authenticator": "oauth",
            "token": wire.config["oauth_token"],
        },
    }[login]

    with wire.connect(**settings) as cx:
        assert cx.complete("echo", "hello").text == "hello"

    (login_request,) = wire.requests(path=LOGIN)
    assert login_request["status"] == 200
    assert len(wire.requests()) == 1


def test_connect_sets_no_options_5x_warns_about() -> None:
    # A user's Cortex.connect on 5.x raises no FutureWarning (the tier turns warnings into
    # errors, so every other test shows it too; this one says it in so many words).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params = connect_params(None, {"account": "a", "user": "u", "password": "p"})
    # 5.x: retry_timeout bounds one attempt; query_timeout (the total) would also end a
    # warehouse-sized statement, so it stays unset.
    assert params["retry_timeout"] == 60
    assert "query_timeout" not in params
    assert params["enable_server_session_keep_alive_auto_detection"] is True


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_complete_in_both_generations_binds_the_prompt(
    wire: Wire, cx: Cortex, functions: str
) -> None:
    client = cx.with_options(functions=functions)  # type: ignore[arg-type]

    assert client.complete("echo", SENTINEL).text == SENTINEL

    (request,) = wire.requests()
    function = "AI_COMPLETE" if functions == "ai" else "SNOWFLAKE.CORTEX.COMPLETE"
    assert function in request["sql"]
    assert "wire5" not in request["sql"]
    values = [b["value"] for b in request["bindings"].values()]
    if functions == "ai":
        assert SENTINEL in values
    else:  # the messages form, which answers with usage: the prompt inside the bound JSON
        assert {"role": "user", "content": SENTINEL} in json.loads(values[1])


def test_session_is_tagged_with_cortex_tune(wire: Wire, cx: Cortex) -> None:
    (login,) = wire.requests(path=LOGIN)

    assert login["session_parameters"]["QUERY_TAG"] == QUERY_TAG


def test_complete_many_answers_in_input_order_in_one_statement(wire: Wire, cx: Cortex) -> None:
    prompts = [f"prompt {i} {SENTINEL}" for i in range(25)]

    results = cx.complete_many("echo", prompts)

    assert [r.text for r in results] == prompts
    assert all(r.error is None for r in results)
    (request,) = wire.requests()
    assert "wire5" not in request["sql"]


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_complete_table_answers_every_row_in_the_warehouse(cx: Cortex, functions: str) -> None:
    client = cx.with_options(functions=functions)  # type: ignore[arg-type]
    cx.sql("CREATE OR REPLACE TABLE EMAILS (ID INT, BODY STRING)")
    cx.sql("INSERT INTO EMAILS VALUES (?, ?), (?, ?), (?, ?)", [1, "hello", 2, SENTINEL, 3, "ok"])

    into = f"REPLIES_{functions.upper()}"  # tables outlive a test on the server

    summary = client.complete_table(
        "echo", source="SELECT ID, BODY AS PROMPT FROM EMAILS", into=into, key="ID"
    )

    assert (summary.rows_done, summary.rows_failed, summary.stopped) == (3, 0, "done")
    rows = cx.sql(f"SELECT ID, RESPONSE FROM {into} ORDER BY ID")
    assert rows == [(1, "hello"), (2, SENTINEL), (3, "ok")]


def test_finetune_create_describe_list_cancel(wire: Wire, cx: Cortex) -> None:
    training_table(cx)

    job = create_job(cx, "WIRE5_CANCELLED")

    assert job.status in (JobStatus.PENDING, JobStatus.IN_PROGRESS)
    assert job.training_data is not None
    assert job.training_data.startswith(f"/* {MARKER_PREFIX}") and job.training_data.endswith(
        TRAINING
    )
    assert cx.finetune.describe(job.id).id == job.id
    assert [j.id for j in cx.finetune.list()] == [job.id]
    (create,) = wire.requests(sql=CREATE)
    assert create["sql"] == "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', ?, ?, ?)"
    assert create["retry_count"] == 0

    cancelled = cx.finetune.cancel(job.id)

    assert cancelled.status is JobStatus.CANCELLED
    assert [j["status"] for j in wire.jobs()] == ["CANCELLED"]


def test_job_runs_to_success_and_its_model_answers(wire: Wire, cx: Cortex) -> None:
    training_table(cx)
    job = create_job(cx, "WIRE5_TICKETS", max_epochs=2)
    wire.advance(120)  # the emulator's jobs train for a minute of its clock

    done = cx.finetune.wait(job.id, progress=False)

    assert done.status is JobStatus.SUCCESS and done.model
    assert cx.complete(done.model, "my bill is wrong").text == "billing"


def test_sql_binds_values_and_returns_rows(wire: Wire, cx: Cortex) -> None:
    cx.sql("CREATE OR REPLACE TABLE NOTES (ID INT, BODY STRING, META VARIANT)")
    cx.sql("INSERT INTO NOTES SELECT ?, ?, PARSE_JSON(?)", [7, SENTINEL, json.dumps({"k": [1, 2]})])

    rows = cx.sql("SELECT ID, BODY, META:k[1]::INT FROM NOTES WHERE BODY = ?", [SENTINEL])

    assert rows == [(7, SENTINEL, 2)]
    assert "WIRE.PUBLIC.NOTES" in wire.state()["tables"]
    inserts = [r for r in wire.requests() if r["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "wire5" not in inserts[0]["sql"]
