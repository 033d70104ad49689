"""Each statement builder produces the exact SQL and parameters documented for it."""

from __future__ import annotations

import json

import pytest

from cortex_tune import (
    ConfigurationError,
    InvalidIdentifierError,
    InvalidOptionsError,
    Message,
    TrainingData,
    sql,
)


def test_finetune_create_minimal_form_has_four_arguments() -> None:
    st = sql.finetune_create_sql(
        "MY_MODEL", base_model="mistral-7b", training="SELECT a AS prompt, b AS completion FROM t"
    )
    assert st.sql == "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', ?, ?, ?)"
    assert st.params == ("MY_MODEL", "mistral-7b", "SELECT a AS prompt, b AS completion FROM t")
    assert st.op == "finetune.create"


def test_finetune_create_with_validation_and_epochs_passes_options_as_json_text() -> None:
    st = sql.finetune_create_sql(
        "db.sch.m",
        base_model="llama3-8b",
        training="SELECT p AS prompt, c AS completion FROM train",
        validation="SELECT p AS prompt, c AS completion FROM validation",
        max_epochs=3,
    )
    assert st.sql == "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', ?, ?, ?, ?, ?)"
    assert st.params[3] == "SELECT p AS prompt, c AS completion FROM validation"
    assert json.loads(str(st.params[4])) == {"max_epochs": 3}


def test_finetune_create_epochs_without_validation_binds_null_validation() -> None:
    st = sql.finetune_create_sql("M", base_model="mistral-7b", training="SELECT 1", max_epochs=2)
    assert st.params[3] is None
    assert st.sql.count("?") == 5


def test_marker_is_a_leading_comment_of_the_training_query() -> None:
    st = sql.finetune_create_sql(
        "M", base_model="mistral-7b", training="SELECT x FROM t", marker="abc123"
    )
    assert st.params[2] == "/* cortex-tune:req=abc123 */ SELECT x FROM t"


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ("SELECT a FROM t;", "SELECT a FROM t"),
        ("  SELECT a FROM t ; ;\n", "SELECT a FROM t"),
        ("SELECT a FROM t -- trailing comment", "SELECT a FROM t -- trailing comment\n"),
    ],
)
def test_training_query_is_normalised_so_the_job_cannot_fail_later(query: str, sent: str) -> None:
    assert sql.training_query(query) == sent


def test_training_data_renders_validated_identifiers() -> None:
    data = TrainingData.table("DB.SCH.EMAILS", prompt="BODY", completion='"Golden"', where="ID > 3")
    assert (
        data.to_sql()
        == 'SELECT BODY AS prompt, "Golden" AS completion FROM DB.SCH.EMAILS WHERE ID > 3'
    )
    assert data.filter("MOD(ID, 10) < 8").where == "(ID > 3) AND (MOD(ID, 10) < 8)"


@pytest.mark.parametrize(
    "bad", ["", "1abc", "a b", "x;drop table t", 'a"b', "a.b.c.d", "name--", "a\x00b"]
)
def test_invalid_model_names_raise_before_any_io(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid model name"):
        sql.finetune_create_sql(bad, base_model="mistral-7b", training="SELECT 1")


@pytest.mark.parametrize("bad", ["_M", "M$1", "db.sch._m", 'db."s c".m$1'])
def test_model_names_follow_the_finetune_rule_not_only_the_identifier_rule(bad: str) -> None:
    # FINETUNE('CREATE'): "Letters, underscores, decimal digits (0-9) are allowed in the
    # identifier. In addition, the identifier must start with an alphabetic character".
    with pytest.raises(InvalidIdentifierError, match="invalid model name"):
        sql.finetune_create_sql(bad, base_model="mistral-7b", training="SELECT 1")


@pytest.mark.parametrize(
    "good", ["m", "M_1", "DB.SCH.M", '"My ""odd"" model"', '"_M$1"', '_db."s c".m1']
)
def test_valid_model_names_are_accepted(good: str) -> None:
    assert (
        sql.finetune_create_sql(good, base_model="mistral-7b", training="SELECT 1").params[0]
        == good
    )


@pytest.mark.parametrize("bad_column", ["a b", "x; --", "1a", ""])
def test_training_data_refuses_bad_columns(bad_column: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        TrainingData.table("T", prompt=bad_column)


@pytest.mark.parametrize("epochs", [0, 11, 2.5, True, "3"])
def test_max_epochs_out_of_range_is_refused(epochs: object) -> None:
    with pytest.raises(ConfigurationError, match="max_epochs"):
        sql.finetune_create_sql("M", base_model="mistral-7b", training="q", max_epochs=epochs)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["", "   ", ";;", "SELECT \x00"])
def test_empty_or_broken_training_queries_are_refused(query: str) -> None:
    with pytest.raises(ConfigurationError):
        sql.finetune_create_sql("M", base_model="mistral-7b", training=query)


def test_show_describe_cancel() -> None:
    assert sql.finetune_show_sql().sql == "SELECT SNOWFLAKE.CORTEX.FINETUNE('SHOW')"
    assert sql.finetune_show_sql().params == ()
    d = sql.finetune_describe_sql("ft_1")
    assert (d.sql, d.params, d.op) == (
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', ?)",
        ("ft_1",),
        "finetune.describe",
    )
    c = sql.finetune_cancel_sql("ft_1")
    assert (c.sql, c.params) == ("SELECT SNOWFLAKE.CORTEX.FINETUNE('CANCEL', ?)", ("ft_1",))
    with pytest.raises(ConfigurationError, match="job_id"):
        sql.finetune_describe_sql("  ")


def test_legacy_complete_plain_prompt_asks_for_usage_with_the_options_form() -> None:
    st = sql.complete_sql("mistral-7b", "Hello")
    assert st.sql == "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))"
    assert st.params == ("mistral-7b", '[{"role":"user","content":"Hello"}]', "{}")


def test_plain_forms_remain_available_without_usage() -> None:
    legacy = sql.complete_sql("mistral-7b", "Hello", usage=False)
    assert legacy.sql == "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, ?)"
    assert legacy.params == ("mistral-7b", "Hello")
    ai = sql.complete_sql("m", "Hi", functions="ai", usage=False)
    assert ai.sql == "SELECT AI_COMPLETE(model => ?, prompt => ?, return_error_details => TRUE)"


def test_legacy_complete_with_options_binds_messages_and_options_as_json() -> None:
    options = sql.complete_options(temperature=0.2, max_tokens=100, guardrails=True)
    st = sql.complete_sql(
        "llama3.1-70b",
        [Message.system("Be brief."), {"role": "user", "content": "Hi"}],
        options=options,
    )
    assert st.sql == "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))"
    assert json.loads(str(st.params[1])) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert json.loads(str(st.params[2])) == {
        "temperature": 0.2,
        "max_tokens": 100,
        "guardrails": True,
    }


def test_ai_complete_forms() -> None:
    plain = sql.complete_sql("m", "Hi", functions="ai")
    assert plain.sql == (
        "SELECT AI_COMPLETE(model => ?, prompt => ?, show_details => TRUE, "
        "return_error_details => TRUE)"
    )
    assert plain.params == ("m", "Hi")
    options = sql.complete_options(
        temperature=0.5, response_format={"type": "object", "properties": {}}
    )
    full = sql.complete_sql("m", "Hi", options=options, functions="ai")
    assert full.sql == (
        "SELECT AI_COMPLETE(model => ?, prompt => ?, model_parameters => PARSE_JSON(?), "
        "response_format => PARSE_JSON(?), show_details => TRUE, return_error_details => TRUE)"
    )
    assert json.loads(str(full.params[2])) == {"temperature": 0.5}
    assert json.loads(str(full.params[3]))["type"] == "json"


def test_ai_complete_refuses_a_conversation_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="conversation") as info:
        sql.complete_sql("m", [Message.system("s"), Message.user("u")], functions="ai")
    assert "legacy" in (info.value.hint or "")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 1.5},
        {"temperature": -0.1},
        {"top_p": 2},
        {"max_tokens": 0},
        {"max_tokens": True},
        {"guardrails": "yes"},
    ],
)
def test_options_out_of_range_raise_before_any_io(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionsError):
        sql.complete_options(**kwargs)  # type: ignore[arg-type]


def test_max_tokens_is_capped_where_the_model_table_documents_8192() -> None:
    assert sql.complete_options(max_tokens=8192, model="mistral-7b") == {"max_tokens": 8192}
    with pytest.raises(InvalidOptionsError, match="at most 8192"):
        sql.complete_options(max_tokens=8193, model="llama3.1-70b")
    # A model with a larger documented output, or a fine-tuned one: Cortex decides.
    assert sql.complete_options(max_tokens=20_000, model="claude-sonnet-4-5")
    assert sql.complete_options(max_tokens=20_000, model="MY_TUNED_MODEL")


def test_count_tokens_forms() -> None:
    legacy = sql.count_tokens_sql("llama3.1-70b", "what is a large language model?")
    assert legacy.sql == "SELECT SNOWFLAKE.CORTEX.COUNT_TOKENS(?, ?)"
    ai = sql.count_tokens_sql("llama3.1-70b", "x", functions="ai")
    assert ai.sql == "SELECT AI_COUNT_TOKENS('ai_complete', ?, ?)"
    assert ai.params == ("llama3.1-70b", "x")


def test_statement_repr_hides_values() -> None:
    st = sql.complete_sql("m", "my secret prompt")
    assert "my secret prompt" not in repr(st)


def test_system_message_only_first() -> None:
    with pytest.raises(ConfigurationError, match="system"):
        sql.complete_sql("m", [Message.user("a"), Message.system("b")])
    with pytest.raises(ConfigurationError, match="empty"):
        sql.complete_sql("m", [])


def test_user_and_assistant_messages_take_turns() -> None:
    good = [Message.system("s"), Message.user("u"), Message.assistant("a"), Message.user("u")]
    assert [m.role for m in sql.to_messages(good)] == ["system", "user", "assistant", "user"]
    with pytest.raises(ConfigurationError, match=r"message 2 \(user\) cannot come after a user"):
        sql.to_messages([Message.system("s"), Message.user("u"), Message.user("again")])
    with pytest.raises(ConfigurationError, match="an assistant message comes after a user"):
        sql.to_messages([{"role": "assistant", "content": "first"}])
