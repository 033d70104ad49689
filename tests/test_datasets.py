"""Datasets: bulk loads and deterministic splits, run for real on the embedded emulator."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cortex_tune import Cortex, TrainingData
from cortex_tune._core.errors import ConfigurationError, InvalidIdentifierError
from cortex_tune._datasets.datasets import Datasets, split
from cortex_tune._datasets.sql import LoadColumn, put_file_sql, split_conditions

pytest.importorskip("fakesnow")

NASTY = [
    "plain",
    "it's",
    'say "hi", then leave',
    "two\nlines",
    "crlf\r\nline",
    "tab\there",
    "back\\slash \\N",
    "é🦄 ünïcödé 日本語",
    "",
    "  padded  ",
    "NULL",
    "?",
    "%s",
    "$$dollar$$",
    "-- comment",
    "{not json",
]


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "prompt": NASTY[i % len(NASTY)] + f" #{i}", "completion": f"answer {i}"}
        for i in range(n)
    ]


@pytest.fixture
def statements() -> list[str]:
    return []


@pytest.fixture
def cx(statements: list[str]) -> Iterator[Cortex]:
    client = Cortex.local(tracer=lambda sql, params: statements.append(sql))
    yield client
    client.close()


@pytest.fixture
def ds(cx: Cortex) -> Datasets:
    return Datasets(cx)


def _table(
    cx: Cortex, table: str, columns: str = "ID, PROMPT, COMPLETION"
) -> list[tuple[Any, ...]]:
    return cx.sql(f"SELECT {columns} FROM {table} ORDER BY ID")


def _types(cx: Cortex, table: str) -> dict[str, str]:
    return {row[0]: row[1] for row in cx.sql(f"DESCRIBE TABLE {table}")}


def _exists(cx: Cortex, table: str) -> bool:
    sql = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?"
    return bool(cx.sql(sql, [table])[0][0])


# -- inputs ----------------------------------------------------------------------------------


def test_list_of_dicts_round_trips_byte_for_byte(cx: Cortex, ds: Datasets) -> None:
    rows = _rows(len(NASTY))
    td = ds.load(rows, table="TRAIN_LIST")
    assert td == TrainingData.table("TRAIN_LIST", prompt="PROMPT", completion="COMPLETION")
    assert _table(cx, "TRAIN_LIST") == [(r["id"], r["prompt"], r["completion"]) for r in rows]
    assert _types(cx, "TRAIN_LIST") == {
        "ID": "NUMBER(38,0)",
        "PROMPT": "VARCHAR(16777216)",
        "COMPLETION": "VARCHAR(16777216)",
    }


def test_dataframe_loads_with_inferred_types(cx: Cortex, ds: Datasets) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "ID": [1, 2, 3],
            "BODY": ["it's", 'a "quoted", comma', "new\nline 🦄"],
            "LABEL": ["x", "y", "z"],
            "SCORE": [0.5, float("nan"), 2.0],
            "URGENT": [True, False, True],
        }
    )
    td = ds.load(frame, table="TRAIN_FRAME", prompt="BODY", completion="LABEL")
    assert td.to_sql() == "SELECT BODY AS prompt, LABEL AS completion FROM TRAIN_FRAME"
    got = _table(cx, "TRAIN_FRAME", "ID, BODY, LABEL, SCORE, URGENT")
    assert got == [
        (1, "it's", "x", 0.5, True),
        (2, 'a "quoted", comma', "y", None, False),
        (3, "new\nline 🦄", "z", 2.0, True),
    ]
    assert _types(cx, "TRAIN_FRAME")["SCORE"] == "FLOAT"
    assert _types(cx, "TRAIN_FRAME")["URGENT"] == "BOOLEAN"


def test_dataframe_dates_and_missing_integers_into_a_qualified_table(
    cx: Cortex, ds: Datasets
) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "ID": pd.array([1, None], dtype="Int64"),
            "PROMPT": ["a", "b"],
            "COMPLETION": ["c", None],
            "SENT": pd.to_datetime(["2024-01-02 03:04:05", "2024-02-03 00:00:00"]),
        }
    )
    ds.load(frame, table="CORTEX_LOCAL.PUBLIC.TRAIN_QUALIFIED")
    got = cx.sql("SELECT ID, PROMPT, COMPLETION, SENT FROM TRAIN_QUALIFIED ORDER BY PROMPT")
    assert got == [(1, "a", "c", "2024-01-02T03:04:05"), (None, "b", None, "2024-02-03T00:00:00")]


def test_jsonl_file_round_trips_and_nested_values_stay_json(
    cx: Cortex, ds: Datasets, tmp_path: Path
) -> None:
    rows = [dict(r, meta={"source": "mail", "tags": [1, 2]}) for r in _rows(20)]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", "utf-8")
    ds.load(path, table="TRAIN_JSONL")
    assert _table(cx, "TRAIN_JSONL") == [(r["id"], r["prompt"], r["completion"]) for r in rows]
    assert _types(cx, "TRAIN_JSONL")["META"] == "VARIANT"
    meta = cx.sql("SELECT META:tags[1]::INT FROM TRAIN_JSONL WHERE ID = 3")
    assert meta == [(2,)]


def test_csv_file_round_trips_quotes_commas_newlines_and_unicode(
    cx: Cortex, ds: Datasets, tmp_path: Path
) -> None:
    path = tmp_path / "train.csv"
    rows = [(str(i), f"00{i}", prompt, f'it\'s answer, "{i}"') for i, prompt in enumerate(NASTY)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "code", "prompt", "completion"])
        writer.writerows(rows)
    ds.load(str(path), table="TRAIN_CSV")
    got = cx.sql("SELECT ID, CODE, PROMPT, COMPLETION FROM TRAIN_CSV ORDER BY ID")
    assert got == [(int(i), code, p, c) for i, code, p, c in rows]
    types = _types(cx, "TRAIN_CSV")
    assert types["ID"] == "NUMBER(38,0)"  # plain integers in every row
    assert types["CODE"].startswith("VARCHAR")  # "007" is text, kept as written


def test_append_adds_rows_and_replace_replaces_them(cx: Cortex, ds: Datasets) -> None:
    ds.load(_rows(3), table="TRAIN_MODES")
    ds.load(_rows(5)[3:], table="TRAIN_MODES", mode="append")
    assert [r[0] for r in _table(cx, "TRAIN_MODES")] == [0, 1, 2, 3, 4]
    ds.load(_rows(1), table="TRAIN_MODES", mode="replace")
    assert [r[0] for r in _table(cx, "TRAIN_MODES")] == [0]


def test_append_creates_a_missing_table(cx: Cortex, ds: Datasets, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows(4)), "utf-8")
    ds.load(path, table="TRAIN_NEW", mode="append")
    ds.load(path, table="TRAIN_NEW", mode="append")
    assert cx.sql("SELECT COUNT(*), COUNT(DISTINCT ID) FROM TRAIN_NEW") == [(8, 4)]


def test_columns_picks_fields_and_non_string_completions_become_json_text(
    cx: Cortex, ds: Datasets
) -> None:
    rows = [{"id": 1, "prompt": "p", "completion": {"truck": "T1"}, "junk-field": 1}]
    ds.load(rows, table="TRAIN_PICK", columns=["id", "prompt", "completion"])
    assert _table(cx, "TRAIN_PICK") == [(1, "p", '{"truck":"T1"}')]


# -- statements ------------------------------------------------------------------------------


MARK = r"\n/\* cortex-tune:req=[0-9a-f]{32} \*/"


def test_list_load_statements(ds: Datasets, statements: list[str]) -> None:
    ds.load(_rows(3), table="TRAIN_SQL")
    raw = statements[0].split()[6]
    once = f"(SELECT V FROM {raw} QUALIFY ROW_NUMBER() OVER (PARTITION BY I ORDER BY I) = 1)"
    assert statements == [
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {raw} (I NUMBER(38,0), V VARIANT)",
        f"INSERT INTO {raw} (I, V) SELECT ? + f.index, f.value "
        "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) f",
        'CREATE OR REPLACE TABLE TRAIN_SQL COPY GRANTS AS SELECT V:"id"::NUMBER(38,0) AS "ID", '
        'V:"prompt"::VARCHAR AS "PROMPT", V:"completion"::VARCHAR AS "COMPLETION" '
        f"FROM {once}",
        f"DROP TABLE IF EXISTS {raw}",
    ]


def test_file_load_goes_through_a_temporary_stage(
    ds: Datasets, statements: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "p", "completion": "c"}), "utf-8")
    ds.load(path, table="TRAIN_STAGED", mode="append")
    stage = statements[0].split()[-1]
    raw = statements[2].split()[6]
    assert stage.startswith("CORTEX_TUNE_STAGE_") and raw.startswith("CORTEX_TUNE_RAW_")
    assert re.fullmatch(rf"PUT 'file:///.*/cortex-tune-[^/]+/rows\.jsonl' @{stage}", statements[1])
    # COPY INTO and the append are never sent twice: each carries a request marker.
    assert re.fullmatch(
        re.escape(
            f"COPY INTO {raw} FROM @{stage} FILE_FORMAT = (TYPE = JSON) "
            "ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
        )
        + MARK,
        statements[3],
    )
    assert statements[4] == (
        'CREATE TABLE IF NOT EXISTS TRAIN_STAGED ("PROMPT" VARCHAR, "COMPLETION" VARCHAR)'
    )
    assert re.fullmatch(
        re.escape(
            'INSERT INTO TRAIN_STAGED ("PROMPT", "COMPLETION") '
            f'SELECT V:"prompt"::VARCHAR, V:"completion"::VARCHAR FROM {raw}'
        )
        + MARK,
        statements[5],
    )
    assert statements[6:] == [f"DROP TABLE IF EXISTS {raw}"]
    assert str(path) not in statements[1]  # cortex-tune uploads its own copy


@pytest.mark.parametrize("kind", ["list", "frame", "jsonl"])
def test_statements_do_not_grow_with_rows(
    ds: Datasets, statements: list[str], tmp_path: Path, kind: str
) -> None:
    def load(n: int) -> int:
        rows: Any = _rows(n)
        if kind == "frame":
            rows = pytest.importorskip("pandas").DataFrame(rows)
        elif kind == "jsonl":
            rows = tmp_path / f"{n}.jsonl"
            rows.write_text("\n".join(json.dumps(r) for r in _rows(n)), "utf-8")
        statements.clear()
        ds.load(rows, table="TRAIN_SCALE")
        return len(statements)

    small, large = load(10), load(2_000)
    assert small == large
    assert small == (4 if kind == "list" else 6)


def test_a_list_larger_than_a_statement_is_cut_to_snowflakes_size_guidance(cx: Cortex) -> None:
    sent: list[tuple[str, tuple[Any, ...]]] = []
    client = cx.with_options(tracer=lambda sql, params: sent.append((sql, params)))
    rows = [{"id": i, "prompt": "x" * 3_000, "completion": "y"} for i in range(3_000)]  # ~9 MB
    Datasets(client).load(rows, table="TRAIN_BIG")
    inserts = [
        (sql, params) for sql, params in sent if sql.startswith("INSERT INTO CORTEX_TUNE_RAW_")
    ]
    sizes = [
        len(sql.encode()) + sum(len(str(p).encode()) for p in params) for sql, params in inserts
    ]
    # Snowflake's guidance: 1 MB per statement, bound values included. The chunks are packed
    # greedily: ~3,040 bytes a row, so 328 rows a statement and 10 statements for 3,000 rows.
    assert max(sizes) <= 1_000_000
    assert len(inserts) == 10
    assert [params[0] for _, params in inserts] == list(range(0, 3_000, 328))[:10]
    assert cx.sql("SELECT COUNT(*), SUM(LENGTH(PROMPT)) FROM TRAIN_BIG") == [(3_000, 9_000_000)]


# -- errors, raised before any statement -----------------------------------------------------


def test_missing_prompt_column_names_the_columns_found(ds: Datasets, statements: list[str]) -> None:
    rows = [{"id": 1, "body": "b", "completion": "c"}]
    with pytest.raises(ConfigurationError, match="prompt column PROMPT") as info:
        ds.load(rows, table="TRAIN_BAD")
    assert "columns found: ID, BODY, COMPLETION" in str(info.value)
    assert statements == []


def test_bad_jsonl_lines_are_reported_with_line_numbers(
    cx: Cortex, ds: Datasets, statements: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"prompt": "p", "completion": "c"})
    path.write_text(f'{good}\n{good}\n{{"prompt": "p",\n[1, 2]\n{good}\n{{"prompt": 1}}\n', "utf-8")
    with pytest.raises(ConfigurationError) as info:
        ds.load(path, table="TRAIN_BAD")
    message = str(info.value)
    assert f"{path} line 3: not valid JSON" in message
    assert f"{path} line 4: not a JSON object" in message
    assert "line 6: no COMPLETION field" in message
    assert statements == []
    assert not _exists(cx, "TRAIN_BAD")


def test_rows_missing_a_field_are_located(ds: Datasets) -> None:
    rows = [{"prompt": "p", "completion": "c"}, {"prompt": "p"}]
    with pytest.raises(ConfigurationError, match="item 1: no COMPLETION field"):
        ds.load(rows, table="TRAIN_BAD")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"table": "bad name"}, InvalidIdentifierError, "table name"),
        ({"table": "T", "mode": "upsert"}, ConfigurationError, "mode"),
        ({"table": "T", "prompt": "a b"}, InvalidIdentifierError, "column"),
        ({"table": "T", "columns": ["prompt", "PROMPT"]}, ConfigurationError, "distinct"),
        ({"table": "T", "columns": ["prompt", "completion", "nope"]}, ConfigurationError, "NOPE"),
    ],
)
def test_bad_arguments(
    ds: Datasets, statements: list[str], kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        ds.load(_rows(2), **kwargs)
    assert statements == []


def test_bad_inputs(ds: Datasets, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        ds.load(tmp_path / "missing.jsonl", table="T")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    with pytest.raises(ConfigurationError, match=r"\.jsonl or \.csv"):
        ds.load(tmp_path / "data.parquet", table="T")
    with pytest.raises(ConfigurationError, match="no rows"):
        ds.load([], table="T")
    with pytest.raises(ConfigurationError, match="cannot load a int"):
        ds.load(42, table="T")
    with pytest.raises(ConfigurationError, match="not plain identifiers"):
        ds.load([{"prompt": "p", "completion": "c", "my field": 1}], table="T")
    with pytest.raises(ConfigurationError, match="collide"):
        ds.load([{"prompt": "p", "completion": "c", "id": 1, "ID": 2}], table="T")
    with pytest.raises(ConfigurationError, match="infinite"):
        ds.load([{"prompt": "p", "completion": "c", "x": float("inf")}], table="T")


def test_csv_rows_with_the_wrong_number_of_fields(ds: Datasets, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('prompt,completion\np,c\n"only one"\n', "utf-8")
    with pytest.raises(ConfigurationError, match="line 3: 1 fields where the header has 2"):
        ds.load(path, table="T")


def test_put_paths_and_field_names_are_checked() -> None:
    assert put_file_sql("/tmp/a b/rows.jsonl", "S").sql == "PUT 'file:///tmp/a b/rows.jsonl' @S"
    for path in ("/tmp/it's/rows.jsonl", "relative/rows.jsonl", "/tmp/x\n/rows.jsonl"):
        with pytest.raises(ConfigurationError, match="PUT"):
            put_file_sql(path, "S")
    with pytest.raises(InvalidIdentifierError):
        put_file_sql("/tmp/rows.jsonl", "S; DROP TABLE T")
    with pytest.raises(ConfigurationError):
        LoadColumn('a"b')
    assert LoadColumn("meta", "VARIANT").extract("V") == 'V:"meta"'


# -- the loaded data trains ------------------------------------------------------------------


def test_loaded_data_trains_a_model(cx: Cortex, ds: Datasets) -> None:
    rows = [
        {"id": i, "prompt": f"my {topic} has a problem {i}", "completion": topic}
        for i, topic in enumerate(["bill", "phone", "roaming"] * 10)
    ]
    td = ds.load(rows, table="TRAIN_FT")
    train, validation = ds.split(td, by="ID")
    job = cx.finetune.create(
        "DATASETS_FT", base_model="mistral-7b", training=train, validation=validation
    )
    done = cx.finetune.wait(job.id, progress=False)
    assert done.succeeded
    assert done.model is not None


# -- S3 --------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="training-data")
        yield client


def _put_jsonl(client: Any, key: str, rows: list[dict[str, Any]], extra: str = "") -> None:
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n" + extra
    client.put_object(Bucket="training-data", Key=key, Body=body.encode("utf-8"))


def test_s3_objects_under_a_prefix_load_every_row(
    cx: Cortex, ds: Datasets, s3: Any, statements: list[str]
) -> None:
    rows = _rows(30)
    _put_jsonl(s3, "emails/part-0.jsonl", rows[:20])
    _put_jsonl(s3, "emails/part-1.jsonl", rows[20:])
    s3.put_object(Bucket="training-data", Key="emails/_SUCCESS", Body=b"")
    _put_jsonl(s3, "other/part-9.jsonl", _rows(3))
    td = ds.from_s3("s3://training-data/emails/", table="TRAIN_S3")
    assert td == TrainingData.table("TRAIN_S3")
    assert _table(cx, "TRAIN_S3") == [(r["id"], r["prompt"], r["completion"]) for r in rows]
    assert sum(s.startswith("PUT ") for s in statements) == 1


def test_s3_bad_line_raises_before_any_table_is_created(
    cx: Cortex, ds: Datasets, s3: Any, statements: list[str]
) -> None:
    _put_jsonl(s3, "emails/part-0.jsonl", _rows(5))
    _put_jsonl(s3, "emails/part-1.jsonl", _rows(2), extra='{"prompt": "no completion"}\nnot json\n')
    with pytest.raises(ConfigurationError) as info:
        ds.from_s3("s3://training-data/emails", table="TRAIN_S3_BAD")
    message = str(info.value)
    assert "s3://training-data/emails/part-1.jsonl line 3: no COMPLETION field" in message
    assert "s3://training-data/emails/part-1.jsonl line 4: not valid JSON" in message
    assert "part-0" not in message
    assert statements == []
    assert not _exists(cx, "TRAIN_S3_BAD")


def test_s3_errors(ds: Datasets, s3: Any) -> None:
    with pytest.raises(ConfigurationError, match="s3://bucket/prefix"):
        ds.from_s3("https://training-data/x", table="T")
    with pytest.raises(ConfigurationError, match=r"no \.jsonl"):
        ds.from_s3("s3://training-data/nothing-here/", table="T")
    with pytest.raises(ConfigurationError, match="cannot read s3://no-such-bucket"):
        ds.from_s3("s3://no-such-bucket/x", table="T")
    for i in range(3):
        _put_jsonl(s3, f"many/{i}.jsonl", _rows(1))
    with pytest.raises(ConfigurationError, match="more than 2"):
        ds.from_s3("s3://training-data/many/", table="T", max_objects=2)


# -- splits ----------------------------------------------------------------------------------


def test_split_renders_the_guides_sql() -> None:
    td = TrainingData.table("EMAILS", prompt="BODY", completion="GOLDEN_JSON")
    train, validation = split(td, by="ID", train=0.8)
    assert train.to_sql() == (
        "SELECT BODY AS prompt, GOLDEN_JSON AS completion FROM EMAILS WHERE MOD(ID, 10) < 8"
    )
    assert validation.where == "MOD(ID, 10) >= 8"
    assert split_conditions("ROW_ID", 0.75) == ("MOD(ROW_ID, 100) < 75", "MOD(ROW_ID, 100) >= 75")
    train, _ = split("EMAILS", train=0.5)
    assert train == TrainingData.table("EMAILS", where="MOD(ID, 10) < 5")
    filtered, _ = split(td.filter("LENGTH(BODY) > 0"))
    assert filtered.where == "(LENGTH(BODY) > 0) AND (MOD(ID, 10) < 8)"


@pytest.mark.parametrize("train", [0.0, 1.0, 1.5, -0.2, 0.123, True, "0.8"])
def test_split_refuses_bad_fractions(train: Any) -> None:
    with pytest.raises(ConfigurationError, match="train"):
        split("EMAILS", train=train)


def test_split_refuses_a_bad_column() -> None:
    with pytest.raises(InvalidIdentifierError):
        split("EMAILS", by="ID; DROP TABLE EMAILS")


def test_split_counts_on_a_hundred_rows(cx: Cortex, ds: Datasets) -> None:
    td = ds.load(_rows(100), table="SPLIT_100")
    train, validation = ds.split(td, by="ID", train=0.8)
    assert cx.sql(f"SELECT COUNT(*) FROM ({train.to_sql()})") == [(80,)]
    assert cx.sql(f"SELECT COUNT(*) FROM ({validation.to_sql()})") == [(20,)]
    train, validation = ds.split(td, train=0.75)
    assert cx.sql(f"SELECT COUNT(*) FROM ({train.to_sql()})") == [(75,)]
    assert cx.sql(f"SELECT COUNT(*) FROM ({validation.to_sql()})") == [(25,)]
