"""LocalBackend: Snowflake SQL on fakesnow with the Cortex functions of the emulator.

Run with TMPDIR pointing at a scratch directory: importing fakesnow leaves a directory there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("fakesnow")

from snowflake.connector import DictCursor
from snowflake.connector.errors import ProgrammingError

from cortex_tune import sql
from cortex_tune._backends.local import LocalBackend
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.models import Message
from cortex_tune.testing import FakeClock, ModelRequest

BASE = "llama3.1-8b"
TRAIN = "SELECT prompt, completion FROM train"


def _echo(request: ModelRequest) -> str:
    return f"echo: {request.prompt} {json.dumps(request.options, sort_keys=True)}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_750_000_000.0)


@pytest.fixture
def backend(clock: FakeClock) -> Iterator[LocalBackend]:
    """A backend whose jobs stay PENDING 1 s and then train for 10 s on ``clock``."""
    local = LocalBackend(clock=clock.time, pending_seconds=1.0, duration=10.0)
    local.register_model(BASE, _echo)
    local.execute(
        sql.Statement(
            "CREATE TABLE train AS SELECT 'question ' || i AS prompt, 'answer ' || i AS completion "
            "FROM range(40) AS r(i)"
        )
    )
    yield local
    local.close()


@pytest.fixture
def cur(backend: LocalBackend) -> Any:
    return backend.connection().cursor()


def scalar(backend: LocalBackend, statement: sql.Statement) -> Any:
    return backend.execute(statement).scalar()


def describe(backend: LocalBackend, job_id: str) -> dict[str, Any]:
    return json.loads(scalar(backend, sql.finetune_describe_sql(job_id)))


def create(backend: LocalBackend, name: str = "tuned", **kwargs: Any) -> str:
    kwargs.setdefault("base_model", "mistral-7b")
    kwargs.setdefault("training", TRAIN)
    job_id = scalar(backend, sql.finetune_create_sql(name, **kwargs))
    assert job_id.startswith("ft_")
    return str(job_id)


# -- FINETUNE through the statement builders ---------------------------------------------------


def test_create_describe_show_through_a_job_lifetime(backend: LocalBackend, clock: FakeClock):
    job_id = create(backend, "support_model", max_epochs=2)
    pending = describe(backend, job_id)
    assert (pending["status"], pending["progress"]) == ("PENDING", 0.0)
    assert pending["options"] == {"max_epochs": 2}
    assert pending["training_data"] == TRAIN

    clock.advance(6)
    running = describe(backend, job_id)
    assert running["status"] == "IN_PROGRESS"
    assert 0.0 < running["progress"] < 1.0

    clock.advance(10)
    done = describe(backend, job_id)
    assert done["status"] == "SUCCESS"
    assert done["model"] == "CORTEX_LOCAL.PUBLIC.SUPPORT_MODEL"
    assert done["trained_tokens"] > 0
    assert set(done["training_result"]) == {"training_loss", "validation_loss"}

    shown = json.loads(scalar(backend, sql.finetune_show_sql()))
    assert [(j["id"], j["status"]) for j in shown] == [(job_id, "SUCCESS")]


def test_create_with_validation_query_and_epochs(backend: LocalBackend, clock: FakeClock):
    validation = "SELECT prompt, completion FROM train WHERE MOD(LENGTH(prompt), 2) = 0"
    job_id = create(backend, validation=validation, max_epochs=1)
    clock.advance(60)
    job = describe(backend, job_id)
    assert job["validation_data"] == validation
    assert job["options"] == {"max_epochs": 1}
    assert job["status"] == "SUCCESS"


def test_cancel_mid_run(backend: LocalBackend, clock: FakeClock):
    job_id = create(backend)
    clock.advance(3)
    message = scalar(backend, sql.finetune_cancel_sql(job_id))
    assert message == f"Canceled Cortex Fine-tuning job: {job_id}"
    clock.advance(60)
    assert describe(backend, job_id)["status"] == "CANCELLED"
    with pytest.raises(ProgrammingError, match="already ended"):
        backend.execute(sql.finetune_cancel_sql(job_id))


def test_unknown_job_is_a_sql_error(backend: LocalBackend):
    for statement in (sql.finetune_describe_sql("ft_nope"), sql.finetune_cancel_sql("ft_nope")):
        with pytest.raises(ProgrammingError, match="ft_nope does not exist") as info:
            backend.execute(statement)
        assert info.value.errno == 2003
        assert info.value.sfqid


def test_unknown_base_model_fails_synchronously(backend: LocalBackend):
    with pytest.raises(ProgrammingError, match="invalid base model 'gpt-9'"):
        backend.execute(sql.finetune_create_sql("m", base_model="gpt-9", training=TRAIN))
    assert json.loads(scalar(backend, sql.finetune_show_sql())) == []


def test_trailing_semicolon_makes_an_error_job(backend: LocalBackend, cur: Any):
    # The builders strip the ';', as the SDK must; raw SQL keeps it, as a worksheet would.
    cur.execute(
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'semi', 'mistral-7b', "
        "'SELECT prompt, completion FROM train WHERE MOD(LENGTH(prompt), 10) = 0;')"
    )
    job = describe(backend, cur.fetchone()[0])
    assert job["status"] == "ERROR"
    assert job["error"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "unexpected ';'" in job["error"]["message"]
    assert job["error"]["message"].startswith("Failed to query input data for Fine-tuning")


def test_missing_prompt_column_makes_an_error_job_naming_the_columns(backend: LocalBackend):
    job = describe(
        backend, create(backend, training="SELECT prompt AS body, completion FROM train")
    )
    assert job["status"] == "ERROR"
    assert "invalid identifier" in job["error"]["message"]
    assert "BODY, COMPLETION" in job["error"]["message"]


def test_a_query_the_engine_refuses_makes_an_error_job(backend: LocalBackend):
    job = describe(backend, create(backend, training="SELECT prompt, completion FROM no_such"))
    assert job["status"] == "ERROR"
    assert "NO_SUCH" in job["error"]["message"]


# -- FINETUNE in raw SQL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "epochs"),
    [
        ("'{\"max_epochs\": 2}'", 2),
        ("{'max_epochs': 4}", 4),
        ("PARSE_JSON('{\"max_epochs\": 5}')", 5),
    ],
    ids=["json-string", "object-literal", "parse-json"],
)
def test_create_options_as_string_or_object(
    backend: LocalBackend, cur: Any, options: str, epochs: int
):
    cur.execute(
        f"SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'opts', 'mistral-7b', '{TRAIN}', NULL, "
        f"{options})"
    )
    assert describe(backend, cur.fetchone()[0])["options"] == {"max_epochs": epochs}


@pytest.mark.parametrize(
    "options", ["{'max_epoch': 2}", "'{\"max_epochs\": 11}'"], ids=["unknown-key", "out-of-range"]
)
def test_create_refuses_bad_options(cur: Any, options: str):
    with pytest.raises(ProgrammingError, match="invalid options object"):
        cur.execute(
            f"SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'x', 'mistral-7b', '{TRAIN}', NULL, "
            f"{options})"
        )


def test_show_is_an_array_that_flatten_reads(backend: LocalBackend, cur: Any):
    first, second = create(backend, "a"), create(backend, "b")
    rows = cur.execute(
        "SELECT f.value:id::VARCHAR AS id, f.value:status::VARCHAR AS status "
        "FROM TABLE(FLATTEN(input => SNOWFLAKE.CORTEX.FINETUNE('SHOW'))) f ORDER BY id"
    ).fetchall()
    assert rows == sorted([(first, "PENDING"), (second, "PENDING")])
    status = cur.execute(
        "SELECT PARSE_JSON(SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', ?)):status::VARCHAR", [first]
    ).fetchone()
    assert status == ("PENDING",)


def test_unknown_command_is_an_error(cur: Any):
    with pytest.raises(ProgrammingError, match="invalid FINETUNE command"):
        cur.execute("SELECT SNOWFLAKE.CORTEX.FINETUNE('LIST')")


def test_guide_flow_in_raw_sql(backend: LocalBackend, clock: FakeClock):
    cur = backend.connection().cursor()
    cur.execute("CREATE TABLE tickets (id INT, body VARCHAR, label VARCHAR)")
    cur.executemany(
        "INSERT INTO tickets VALUES (?, ?, ?)",
        [
            (i, f"ticket {i} about {topic}", topic)
            for i, topic in enumerate(["billing", "login"] * 25)
        ],
    )
    cur.execute("CREATE TABLE training AS SELECT * FROM tickets WHERE MOD(id, 10) <> 0")
    cur.execute("CREATE TABLE validation AS SELECT * FROM tickets WHERE MOD(id, 10) = 0")
    cur.execute(
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'ticket_labeller', 'mistral-7b', "
        "'SELECT body AS prompt, label AS completion FROM training', "
        "'SELECT body AS prompt, label AS completion FROM validation', '{\"max_epochs\": 3}')"
    )
    job_id = cur.fetchone()[0]

    status = None
    for _ in range(30):  # poll like a notebook would, on the injected clock
        state = json.loads(
            cur.execute("SELECT SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', ?)", [job_id]).fetchone()[0]
        )
        status = state["status"]
        if status in ("SUCCESS", "ERROR", "CANCELLED"):
            break
        clock.advance(1)
    assert status == "SUCCESS"

    rows = cur.execute(
        "SELECT id, label, SNOWFLAKE.CORTEX.COMPLETE('ticket_labeller', body) AS answer "
        "FROM validation ORDER BY id"
    ).fetchall()
    assert len(rows) == 5
    assert all(answer == label for _, label, answer in rows)


# -- COMPLETE / TRY_COMPLETE / AI_COMPLETE -----------------------------------------------------


def test_complete_two_arguments_returns_text(backend: LocalBackend):
    assert scalar(backend, sql.complete_sql(BASE, "hello", usage=False)) == "echo: hello {}"


def test_complete_asks_for_usage_by_default(backend: LocalBackend):
    answer = json.loads(scalar(backend, sql.complete_sql(BASE, "hello")))
    assert answer["choices"][0]["messages"] == "echo: hello {}"
    assert answer["usage"]["total_tokens"] > 0


def test_complete_with_messages_and_options_returns_json(backend: LocalBackend):
    statement = sql.complete_sql(
        BASE, [Message.system("be brief"), Message.user("hi")], options={"temperature": 0.2}
    )
    answer = json.loads(scalar(backend, statement))
    assert answer["choices"][0]["messages"] == 'echo: hi {"temperature": 0.2}'
    assert answer["model"] == BASE
    assert answer["usage"]["total_tokens"] >= answer["usage"]["prompt_tokens"]


def test_complete_with_literal_messages_and_options(cur: Any):
    cur.execute(
        f"SELECT SNOWFLAKE.CORTEX.COMPLETE('{BASE}', "
        "[{'role': 'user', 'content': 'hi'}], {'max_tokens': 100})"
    )
    answer = json.loads(cur.fetchone()[0])
    assert answer["choices"][0]["messages"] == 'echo: hi {"max_tokens": 100}'


def test_object_literals_keep_their_keys(backend: LocalBackend, cur: Any):
    assert cur.execute("SELECT {'maxTokens': 1, 'Inner': {'a': 2}}:Inner:a").fetchone() == ("2",)
    backend.register_model("labeller", lambda request: {"Label": "billing"})
    fmt = "{'type': 'json', 'schema': {'type': 'object', 'required': ['Label']}}"
    answer = cur.execute(
        "SELECT SNOWFLAKE.CORTEX.COMPLETE('labeller', [{'role': 'user', 'content': 'x'}], "
        f"{{'response_format': {fmt}}})"
    ).fetchone()[0]
    assert json.loads(answer) == {"Label": "billing"}
    strict = fmt.replace("'Label'", "'Category'")
    with pytest.raises(ProgrammingError, match="required field"):
        cur.execute(
            "SELECT SNOWFLAKE.CORTEX.COMPLETE('labeller', [{'role': 'user', 'content': 'x'}], "
            f"{{'response_format': {strict}}})"
        )


def test_complete_over_a_variant_column(cur: Any):
    cur.execute("CREATE TABLE convo (id INT, messages VARIANT)")
    cur.execute(
        'INSERT INTO convo SELECT i, PARSE_JSON(\'[{"role": "user", "content": "q\' || i '
        "|| '\"}]') FROM range(3) AS r(i)"
    )
    rows = cur.execute(
        f"SELECT id, SNOWFLAKE.CORTEX.COMPLETE('{BASE}', messages, {{}}) FROM convo ORDER BY id"
    ).fetchall()
    assert [json.loads(text)["choices"][0]["messages"] for _, text in rows] == [
        "echo: q0 {}",
        "echo: q1 {}",
        "echo: q2 {}",
    ]


def test_complete_runs_once_per_row(backend: LocalBackend, cur: Any):
    calls: list[str] = []
    backend.register_model("counting", lambda request: calls.append(request.prompt) or "ok")
    rows = cur.execute("SELECT SNOWFLAKE.CORTEX.COMPLETE('counting', 'same') FROM train").fetchall()
    assert len(rows) == len(calls) == 40


def test_complete_into_a_table_runs_in_the_engine(backend: LocalBackend, cur: Any):
    calls: list[str] = []
    backend.register_model("upper", lambda request: calls.append(request.prompt) or "UP")
    cur.execute(
        "CREATE TABLE answers AS SELECT prompt, SNOWFLAKE.CORTEX.COMPLETE('upper', prompt) AS a "
        "FROM train WHERE MOD(LENGTH(prompt), 2) = 0"
    )
    count, distinct = cur.execute("SELECT COUNT(*), COUNT(DISTINCT a) FROM answers").fetchone()
    assert count == len(calls) > 0
    assert distinct == 1
    with pytest.raises(ProgrammingError, match="unknown model"):
        cur.execute(
            "CREATE TABLE broken AS SELECT SNOWFLAKE.CORTEX.COMPLETE('nope', prompt) FROM train"
        )


def test_unknown_model_is_cortex_error(backend: LocalBackend):
    with pytest.raises(ProgrammingError, match="unknown model") as info:
        backend.execute(sql.complete_sql("nope-70b", "hi"))
    assert (info.value.errno, info.value.sqlstate) == (100351, "P0000")
    assert "register_model" in str(info.value)


def test_bad_options_are_cortex_error(backend: LocalBackend, cur: Any):
    with pytest.raises(ProgrammingError, match="invalid options object"):
        cur.execute(
            f"SELECT SNOWFLAKE.CORTEX.COMPLETE('{BASE}', [{{'role': 'user', 'content': 'x'}}], "
            "{'temprature': 0.1})"
        )
    statement = sql.Statement(
        "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))",
        (BASE, '[{"role": "user", "content": "x"}]', '{"temperature": 3}'),
    )
    with pytest.raises(ProgrammingError, match="invalid options object"):
        backend.execute(statement)


def test_try_complete_returns_null_instead_of_failing(cur: Any):
    row = cur.execute(
        f"SELECT SNOWFLAKE.CORTEX.TRY_COMPLETE('nope', 'x'), "
        f"SNOWFLAKE.CORTEX.TRY_COMPLETE('{BASE}', 'x'), "
        f"SNOWFLAKE.CORTEX.TRY_COMPLETE('{BASE}', [{{'role': 'user', 'content': 'x'}}], {{}})"
    ).fetchone()
    assert row[0] is None
    assert row[1] == "echo: x {}"
    assert json.loads(row[2])["choices"][0]["messages"] == "echo: x {}"


def test_ai_complete_statements(backend: LocalBackend):
    plain = json.loads(scalar(backend, sql.complete_sql(BASE, "hi", functions="ai", usage=False)))
    assert plain == {"value": "echo: hi {}", "error": None}
    usage = json.loads(scalar(backend, sql.complete_sql(BASE, "hi", functions="ai")))["value"]
    assert usage["choices"][0]["messages"] == "echo: hi {}"
    assert usage["usage"]["total_tokens"] > 0

    detailed = scalar(
        backend, sql.complete_sql(BASE, "hi", options={"max_tokens": 50}, functions="ai")
    )
    value = json.loads(detailed)["value"]
    assert value["choices"][0]["messages"] == 'echo: hi {"max_tokens": 50}'
    assert value["usage"]["prompt_tokens"] >= 1

    failed = json.loads(scalar(backend, sql.complete_sql("nope", "hi", functions="ai")))
    assert failed["value"] is None
    assert "unknown model" in failed["error"]


def test_structured_output_in_both_generations(backend: LocalBackend):
    backend.register_model("json-model", lambda request: {"label": "billing", "score": 0.9})
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
        "required": ["label"],
    }
    options = sql.complete_options(response_format=schema)
    ai = sql.complete_sql("json-model", "classify", options=options, functions="ai")
    assert "response_format => PARSE_JSON(?)" in ai.sql
    value = json.loads(scalar(backend, ai))["value"]
    assert value["structured_output"][0]["raw_message"] == {"label": "billing", "score": 0.9}

    # The COMPLETE reference: "a string representation of a JSON object adhering to the
    # specified JSON schema" (the emulator's default; see the answer_shapes tests below).
    legacy = json.loads(
        scalar(backend, sql.complete_sql("json-model", "classify", options=options))
    )
    assert legacy == {"label": "billing", "score": 0.9}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (f"AI_COMPLETE('{BASE}', 'p')", "echo: p {}"),
        (f"AI_COMPLETE(prompt => 'p', model => '{BASE}')", "echo: p {}"),
        (f"AI_COMPLETE('{BASE}', 'p', {{'temperature': 0.5}})", 'echo: p {"temperature": 0.5}'),
        ("AI_COMPLETE('nope', 'p')", None),
        (
            f"AI_COMPLETE('{BASE}', 'p', NULL, NULL, FALSE, TRUE)",
            '{"value": "echo: p {}", "error": null}',
        ),
    ],
    ids=["positional", "named", "object-parameters", "null-on-error", "six-positional"],
)
def test_ai_complete_forms(cur: Any, call: str, expected: str | None):
    assert cur.execute(f"SELECT {call}").fetchone() == (expected,)


def test_ai_complete_show_details_and_error_details(cur: Any):
    detailed = cur.execute(
        f"SELECT AI_COMPLETE(model => '{BASE}', prompt => 'p', "
        "model_parameters => {'max_tokens': 20}, show_details => TRUE)"
    ).fetchone()[0]
    assert json.loads(detailed)["choices"][0]["messages"] == 'echo: p {"max_tokens": 20}'
    failed = cur.execute(
        "SELECT AI_COMPLETE(model => 'nope', prompt => 'p', return_error_details => TRUE)"
    ).fetchone()[0]
    assert "unknown model" in json.loads(failed)["error"]


# -- where the documentation is silent: both answers ------------------------------------------

SCHEMA = "{'type': 'json', 'schema': {'type': 'object', 'required': ['label']}}"


@pytest.mark.parametrize(
    ("shape", "wrapped"), [("bare", False), ("wrapped", True)], ids=["bare", "wrapped"]
)
def test_legacy_structured_output_in_either_shape(clock: FakeClock, shape: str, wrapped: bool):
    local = LocalBackend(clock=clock.time, answer_shapes={"legacy_structured": shape})
    local.register_model("labeller", lambda request: {"label": "billing"})
    cursor = local.connection().cursor()
    answer = json.loads(
        cursor.execute(
            "SELECT SNOWFLAKE.CORTEX.COMPLETE('labeller', [{'role': 'user', 'content': 'x'}], "
            f"{{'response_format': {SCHEMA}}})"
        ).fetchone()[0]
    )
    if wrapped:
        assert answer["structured_output"][0]["raw_message"] == {"label": "billing"}
        assert answer["usage"]["total_tokens"] > 0
    else:
        assert answer == {"label": "billing"}
    local.close()


@pytest.mark.parametrize("shape", ["object", "text"])
def test_ai_complete_error_details_value_in_either_shape(clock: FakeClock, shape: str):
    local = LocalBackend(clock=clock.time, answer_shapes={"ai_details_value": shape})
    local.register_model(BASE, _echo)
    cursor = local.connection().cursor()
    raw = cursor.execute(
        f"SELECT AI_COMPLETE(model => '{BASE}', prompt => 'p', show_details => TRUE, "
        "return_error_details => TRUE)"
    ).fetchone()[0]
    value = json.loads(raw)["value"]
    assert isinstance(value, str) == (shape == "text")
    details = json.loads(value) if shape == "text" else value
    assert details["choices"][0]["messages"] == "echo: p {}"
    failed = json.loads(
        cursor.execute(
            "SELECT AI_COMPLETE(model => 'nope', prompt => 'p', return_error_details => TRUE)"
        ).fetchone()[0]
    )
    assert failed["value"] is None and "unknown model" in failed["error"]
    local.close()


@pytest.mark.parametrize(
    "shapes",
    [{"legacy_structured": "nested"}, {"ai_details_value": "xml"}, {"other": "x"}, "bare"],
)
def test_unknown_answer_shapes_are_refused(shapes: Any):
    with pytest.raises(ConfigurationError, match="answer_shapes"):
        LocalBackend(answer_shapes=shapes)


# -- what the documentation refuses, the emulator refuses ----------------------------------------


@pytest.mark.parametrize(
    "messages",
    [
        "[{'role': 'user', 'content': 'a'}, {'role': 'user', 'content': 'b'}]",
        "[{'role': 'assistant', 'content': 'a'}]",
        "[{'role': 'system', 'content': 's'}, {'role': 'assistant', 'content': 'a'}]",
    ],
    ids=["user-after-user", "assistant-first", "assistant-after-system"],
)
def test_conversations_out_of_order_are_refused(cur: Any, messages: str):
    with pytest.raises(ProgrammingError, match="cannot follow"):
        cur.execute(f"SELECT SNOWFLAKE.CORTEX.COMPLETE('{BASE}', {messages}, {{}})")


@pytest.mark.parametrize("name", ["_M", "M$1", "db.sch._m"])
def test_finetune_refuses_model_names_the_docs_refuse(cur: Any, name: str):
    with pytest.raises(ProgrammingError, match="invalid model name"):
        cur.execute(
            f"SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', '{name}', 'mistral-7b', '{TRAIN}')"
        )


def test_counting_functions_refuse_fine_tuned_models(backend: LocalBackend, clock: FakeClock):
    # COUNT_TOKENS "does not support fine-tuned models" (and raises, as SNOWFLAKE.CORTEX
    # functions do); AI_COUNT_TOKENS "does not work ... with fine-tuned models" and "By
    # default, if AI_COUNT_TOKENS can't process the input, the function returns NULL."
    create(backend, "counted")
    clock.advance(60)
    with pytest.raises(ProgrammingError, match="does not support fine-tuned models"):
        backend.execute(sql.count_tokens_sql("counted", "x"))
    assert scalar(backend, sql.count_tokens_sql("counted", "x", functions="ai")) is None


# -- COUNT_TOKENS ------------------------------------------------------------------------------


def test_count_tokens_both_generations(backend: LocalBackend, cur: Any):
    text = "what is a large language model?"
    legacy = scalar(backend, sql.count_tokens_sql("llama3.1-70b", text))
    ai = scalar(backend, sql.count_tokens_sql("llama3.1-70b", text, functions="ai"))
    assert legacy == ai
    assert isinstance(legacy, int) and legacy > 0
    rows = cur.execute(
        "SELECT SNOWFLAKE.CORTEX.COUNT_TOKENS('mistral-7b', prompt) FROM train LIMIT 3"
    ).fetchall()
    assert all(isinstance(n, int) and n > 0 for (n,) in rows)


def test_count_tokens_errors(backend: LocalBackend, cur: Any):
    with pytest.raises(ProgrammingError, match="unknown model"):
        backend.execute(sql.count_tokens_sql("nope", "x"))
    # AI_COUNT_TOKENS returns NULL for what it cannot count: an unknown model, a function the
    # emulator does not count for, a row of a table among others that it can count.
    assert scalar(backend, sql.count_tokens_sql("nope", "x", functions="ai")) is None
    cur.execute("SELECT AI_COUNT_TOKENS('ai_sentiment', 'mistral-7b', 'x')")
    assert cur.fetchone() == (None,)
    rows = cur.execute(
        "SELECT AI_COUNT_TOKENS('ai_complete', m, 'four') FROM (SELECT 'nope' AS m UNION ALL "
        "SELECT 'mistral-7b') ORDER BY m"
    ).fetchall()
    assert rows == [(1,), (None,)]


# -- sessions, schemas, threads, lifetime ------------------------------------------------------


def test_models_live_in_the_callers_schema(backend: LocalBackend, clock: FakeClock, cur: Any):
    cur.execute("CREATE SCHEMA lab")  # becomes the session's schema, as in Snowflake
    cur.execute("CREATE TABLE pairs AS SELECT 'ping' AS prompt, 'pong' AS completion")
    cur.execute(
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', 'pinger', 'mistral-7b', "
        "'SELECT prompt, completion FROM pairs')"
    )
    job_id = cur.fetchone()[0]
    clock.advance(60)
    assert describe(backend, job_id)["model"] == "CORTEX_LOCAL.LAB.PINGER"
    assert cur.execute("SELECT SNOWFLAKE.CORTEX.COMPLETE('pinger', 'ping')").fetchone() == ("pong",)
    # the backend's own session is still in PUBLIC: the unqualified name is not found there
    with pytest.raises(ProgrammingError, match="unknown model"):
        backend.execute(sql.complete_sql("pinger", "ping"))
    assert scalar(backend, sql.complete_sql("cortex_local.lab.pinger", "ping", usage=False)) == (
        "pong"
    )


def test_results_have_columns_and_query_ids(backend: LocalBackend):
    result = backend.execute(sql.Statement("SELECT 1 AS one, 'x' AS two"))
    assert result.rows == [(1, "x")]
    assert result.columns == ["ONE", "TWO"]
    assert result.query_id


def test_dict_cursor(backend: LocalBackend):
    cursor = backend.connection().cursor(DictCursor)
    assert cursor.execute(f"SELECT SNOWFLAKE.CORTEX.COMPLETE('{BASE}', 'x') AS a").fetchall() == [
        {"A": "echo: x {}"}
    ]


def test_ordinary_sql_errors_pass_through(backend: LocalBackend):
    with pytest.raises(ProgrammingError, match="does not exist") as info:
        backend.execute(sql.Statement("SELECT * FROM missing_table"))
    assert info.value.errno == 2003


def test_threads_get_their_own_sessions(backend: LocalBackend, clock: FakeClock):
    def work(i: int) -> str:
        if i % 8 == 0:
            return describe(backend, create(backend, f"m{i}"))["status"]
        return str(scalar(backend, sql.complete_sql(BASE, f"hello {i}", usage=False)))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(40)))
    assert results[1] == "echo: hello 1 {}"
    assert results[0] == "PENDING"
    assert len(json.loads(scalar(backend, sql.finetune_show_sql()))) == 5


def test_close_ends_sessions_and_frees_tables(clock: FakeClock):
    backend = LocalBackend(clock=clock.time)
    conn = backend.connection()
    backend.execute(sql.Statement("CREATE TABLE kept AS SELECT 1 AS x"))
    backend.close()
    backend.close()  # idempotent
    assert conn.is_closed()
    with pytest.raises(ConfigurationError, match="closed"):
        backend.execute(sql.finetune_show_sql())
    fresh = LocalBackend(clock=clock.time)
    with pytest.raises(ProgrammingError, match="does not exist"):
        fresh.execute(sql.Statement("SELECT * FROM kept"))
    assert json.loads(scalar(fresh, sql.finetune_show_sql())) == []
    fresh.close()


def test_repr_shows_where_data_lives(tmp_path: Any):
    memory = LocalBackend()
    assert repr(memory) == "LocalBackend(in memory, database='CORTEX_LOCAL', schema='PUBLIC')"
    memory.close()
    on_disk = LocalBackend(tmp_path, database="lab", schema="work")
    assert repr(on_disk) == (f"LocalBackend(path={str(tmp_path)!r}, database='LAB', schema='WORK')")
    assert on_disk.execute(sql.Statement("SELECT CURRENT_SCHEMA()")).scalar() == "WORK"
    on_disk.close()


def test_bad_names_are_refused():
    with pytest.raises(ConfigurationError, match="plain identifier"):
        LocalBackend(database="x; DROP")


def test_missing_fakesnow_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "fakesnow.instance", None)
    with pytest.raises(ConfigurationError) as info:
        LocalBackend()
    assert info.value.hint == 'pip install "cortex-tune[local]"'
