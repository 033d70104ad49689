"""The examples use cortex-tune's public API only, and what they need from it is documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import cortex_tune
from cortex_tune import sample_data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.rglob("*.py"))


def _private_uses(path: Path) -> list[str]:
    """Every ``cortex_tune`` module or name that ``path`` reaches through a leading underscore."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            modules = [f"{node.value.id}.{node.attr}"]
        for name in modules:
            parts = name.split(".")
            if parts[0] == "cortex_tune" and any(p.startswith("_") for p in parts[1:]):
                found.append(f"{path.name}:{node.lineno}: {name}")
    return found


def test_there_are_examples_to_check() -> None:
    assert len(SCRIPTS) >= 4


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_import_no_private_module(path: Path) -> None:
    assert _private_uses(path) == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text(
        "import cortex_tune._core.errors\n"
        "from cortex_tune._core.models import Usage\n"
        "from cortex_tune import _rules\n"
        "import cortex_tune\n"
        "cortex_tune._version\n",
        encoding="utf-8",
    )
    assert len(_private_uses(script)) == 4


def test_sample_data_is_public_and_documented() -> None:
    assert cortex_tune.sample_data is sample_data
    assert "sample_data" in cortex_tune.__all__
    assert sample_data.__all__ == sorted(sample_data.__all__)
    for name in sample_data.__all__:
        obj = getattr(sample_data, name)
        if inspect.isfunction(obj):
            assert inspect.getdoc(obj), name


def test_sample_data_is_deterministic_and_shaped_like_the_guides() -> None:
    tickets = sample_data.support_tickets(20, seed=3)
    assert tickets == sample_data.support_tickets(20, seed=3)
    assert {t["CATEGORY"] for t in tickets} <= set(sample_data.CATEGORIES)
    emails = sample_data.support_emails(5)
    assert set(emails[0]) == {"ID", "BODY", "LABELED_TRUCK", "LABELED_LOCATION", "GOLDEN_JSON"}
    assert sample_data.keyword_labeller("my phone was stolen") == "Lost phone"
