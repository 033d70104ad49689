"""``import cortex_tune`` loads nothing until a name is used; every public name still resolves.

Measured in BENCHMARKS.md ("import"); here only what is loaded is asserted, never a time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import cortex_tune

LOADED = """
import json, sys
{statement}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
      ("cortex_tune", "pydantic", "tenacity", "snowflake", "fakesnow", "typer"))))
"""
# Snowpark's namespace-package .pth file imports the bare "snowflake" package at start-up.
STARTUP = {"snowflake"}


def _loaded(statement: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(done.stdout)) - STARTUP


def test_import_cortex_tune_loads_only_its_version() -> None:
    assert _loaded("import cortex_tune") == {"cortex_tune", "cortex_tune._version"}


def test_an_error_class_alone_needs_no_pydantic() -> None:
    loaded = _loaded("from cortex_tune import CortexError, JobNotFoundError")
    assert "cortex_tune._core.errors" in loaded
    assert not {m for m in loaded if m.startswith(("pydantic", "tenacity", "snowflake"))}


def test_the_client_loads_neither_the_connector_nor_the_emulator() -> None:
    loaded = _loaded("from cortex_tune import Cortex")
    assert "cortex_tune._client.cortex" in loaded
    assert not {m for m in loaded if m.startswith(("snowflake", "fakesnow", "typer"))}
    assert "cortex_tune._emulator" not in loaded


def test_every_public_name_resolves_and_is_listed_by_dir() -> None:
    for name in cortex_tune.__all__:
        assert getattr(cortex_tune, name) is not None, name
    assert set(cortex_tune.__all__) <= set(dir(cortex_tune))
    assert cortex_tune.Cortex.__module__ == "cortex_tune._client.cortex"
    assert cortex_tune.sql.__name__ == "cortex_tune.sql"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        cortex_tune.NoSuchThing  # noqa: B018
