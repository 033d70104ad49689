"""The public surface is deliberate: a sorted __all__, every name documented."""

from __future__ import annotations

import inspect

import cortex_tune
from cortex_tune import sql, testing


def test_all_is_sorted_and_complete() -> None:
    assert cortex_tune.__all__ == sorted(cortex_tune.__all__)
    for name in cortex_tune.__all__:
        assert hasattr(cortex_tune, name), name


def test_public_names_have_docstrings() -> None:
    for module in (cortex_tune, sql, testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


def test_public_methods_of_the_client_have_docstrings() -> None:
    for cls in (
        cortex_tune.Cortex,
        type(cortex_tune.Cortex(backend=testing.FakeBackend()).finetune),
    ):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and callable(member):
                assert inspect.getdoc(member), f"{cls.__name__}.{name} has no docstring"


def test_fake_backend_is_reexported() -> None:
    assert cortex_tune.FakeBackend is testing.FakeBackend
