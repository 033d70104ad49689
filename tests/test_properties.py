"""No value ever reaches SQL text: any prompt, model name or query travels as a bound parameter."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortex_tune import Cortex, sql
from cortex_tune.testing import FakeBackend, ModelRequest

NASTY = st.sampled_from(
    [
        "'",
        "''",
        '"',
        "\\",
        "\\'",
        "$$",
        "--",
        "/*",
        "*/",
        ";",
        "\x00",
        "\n",
        "\r\n",
        "?",
        "%s",
        ":1",
        "é",
        "🦄",
        "\u202e",
    ]
)
TEXT = st.one_of(
    st.text(min_size=1),
    st.lists(st.one_of(NASTY, st.text(max_size=5)), min_size=1, max_size=12).map("".join),
)
NONBLANK = TEXT.filter(lambda s: s.strip() and "\x00" not in s)
QUERY = NONBLANK.filter(lambda s: s.replace(";", "").strip())
ONE_MB = "x'\\$$--;\x00é" * (1024 * 1024 // 9)


def _every_statement(model: str, prompt: str, query: str) -> list[sql.Statement]:
    opts = sql.complete_options(temperature=0.1)
    return [
        sql.complete_sql(model, prompt),
        sql.complete_sql(model, prompt, options=opts),
        sql.complete_sql(model, prompt, functions="ai"),
        sql.complete_sql(model, prompt, options=opts, functions="ai"),
        sql.count_tokens_sql(model, prompt),
        sql.count_tokens_sql(model, prompt, functions="ai"),
        sql.finetune_create_sql("M", base_model=model, training=query),
        sql.finetune_create_sql(
            "M", base_model=model, training=query, validation=query, max_epochs=2
        ),
        sql.finetune_describe_sql(model),
        sql.finetune_cancel_sql(model),
    ]


REFERENCE = _every_statement("mistral-7b", "hello", "SELECT 1")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(model=NONBLANK, prompt=TEXT, query=QUERY)
def test_sql_text_never_depends_on_values(model: str, prompt: str, query: str) -> None:
    for built, ref in zip(_every_statement(model, prompt, query), REFERENCE, strict=True):
        assert built.sql == ref.sql
        assert model in built.params
    plain = sql.complete_sql(model, prompt, usage=False)
    assert plain.params[1] == prompt
    detailed = sql.complete_sql(model, prompt)
    assert json.loads(str(detailed.params[1]))[0]["content"] == prompt
    conversation = sql.complete_sql(model, prompt, options={"temperature": 0})
    assert json.loads(str(conversation.params[1]))[0]["content"] == prompt


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=TEXT, temperature=st.sampled_from([None, 0.3]))
def test_prompts_arrive_byte_exact_at_the_model(prompt: str, temperature: float | None) -> None:
    seen: list[ModelRequest] = []
    fake = FakeBackend()
    fake.respond("llama3.1-70b", lambda req: seen.append(req) or "ok")
    for functions in ("legacy", "ai"):
        cx = Cortex(backend=fake, functions=functions)  # type: ignore[arg-type]
        assert cx.complete("llama3.1-70b", prompt, temperature=temperature).text == "ok"
        assert seen[-1].prompt == prompt


def test_a_one_megabyte_prompt_round_trips() -> None:
    seen: list[str] = []
    fake = FakeBackend()
    # The answer is a digest: answers are capped by max_tokens, as Cortex's are. About 262,000
    # tokens: over every window of the model table, so a stand-in of a name it does not list.
    fake.respond("long-context", lambda req: seen.append(req.prompt) or str(len(req.prompt)))
    completion = Cortex(backend=fake, functions="legacy").complete("long-context", ONE_MB)
    assert seen == [ONE_MB]
    assert completion.text == str(len(ONE_MB))
    assert ONE_MB not in fake.statements[-1].sql


@settings(max_examples=100, deadline=None)
@given(query=QUERY)
def test_training_queries_arrive_byte_exact_apart_from_trailing_semicolons(query: str) -> None:
    fake = FakeBackend()
    cx = Cortex(backend=fake)
    job = cx.finetune.create("M", base_model="mistral-7b", training=query)
    expected = sql.training_query(query)
    assert job.training_data is not None
    assert job.training_data.endswith(expected)
    assert query not in fake.statements[0].sql or query in REFERENCE[6].sql
