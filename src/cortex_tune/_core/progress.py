"""Progress display for wait() and batch calls: a bar in terminals and notebooks, or a callback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from cortex_tune._core.models import FineTuneJob

#: ``None`` shows a bar when interactive, ``True`` always, ``False`` never; a callable gets
#: every job state seen.
ProgressOption = bool | None | Callable[[FineTuneJob], Any]


class Reporter(Protocol):
    """Receives each job state seen while waiting."""

    def update(self, job: FineTuneJob) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, job: FineTuneJob) -> None:
        return None

    def close(self) -> None:
        return None


class _Callback:
    def __init__(self, fn: Callable[[FineTuneJob], Any]) -> None:
        self.fn = fn

    def update(self, job: FineTuneJob) -> None:
        self.fn(job)

    def close(self) -> None:
        return None


class _Bar:
    """A tqdm bar in percent of job progress: the widget in a notebook, text elsewhere."""

    def __init__(self, notebook: bool) -> None:
        from tqdm import tqdm

        bar_class: Any = tqdm
        if notebook and _widgets_available():
            from tqdm.notebook import tqdm as notebook_tqdm

            bar_class = notebook_tqdm
        self.notebook = bar_class is not tqdm
        self.bar = bar_class(
            total=100, unit="%", bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}"
        )
        self.last_status: str | None = None

    def update(self, job: FineTuneJob) -> None:
        status = job.status_raw or job.status.value
        rows = getattr(job, "rows_todo", None)  # a run: rows done of rows to do, and tokens
        if rows:
            tokens = getattr(job, "tokens", 0)
            status += f" {getattr(job, 'rows_done', 0):,}/{rows:,} rows, {tokens:,} tokens"
        self.bar.set_description_str(f"{job.id[:16]} {status}")
        target = 100 if job.succeeded else int(job.progress * 100)
        if target > self.bar.n:
            self.bar.update(target - self.bar.n)
        else:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _widgets_available() -> bool:
    """tqdm's notebook bar needs ipywidgets; a kernel without it gets the text bar."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def in_notebook() -> bool:
    """True when running inside a Jupyter-style kernel (including Snowflake Notebooks)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    if get is None:
        return False
    ip = get()
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def reporter(option: ProgressOption) -> Reporter:
    """The reporter for a ``progress=`` argument."""
    if option is False:
        return _Silent()
    if callable(option):
        return _Callback(option)
    notebook = in_notebook()
    if option is True or notebook or sys.stderr.isatty():
        return _Bar(notebook)
    return _Silent()
