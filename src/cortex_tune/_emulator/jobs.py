"""Fine-tuning jobs of the emulator: records, a clock-driven state machine, and storage.

A job's state is a pure function of its record and the current time, so a second process that
reads the same store sees the same state without any coordination: PENDING for
``pending_s``, then IN_PROGRESS with progress rising linearly over ``duration_s``, then
SUCCESS. ERROR and CANCELLED are written into the record.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cortex_tune._emulator.errors import invalid_argument


@dataclass
class JobRecord:
    """Everything the emulator knows about one job."""

    id: str
    name: str
    model: str
    base_model: str
    training_data: str
    validation_data: str
    created_ms: int
    pending_s: float
    duration_s: float
    trained_tokens: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    cancelled_ms: int | None = None
    training_result: dict[str, float | None] | None = None

    def state(self, now_ms: int) -> dict[str, Any]:
        """The DESCRIBE object of this job at ``now_ms``."""
        base: dict[str, Any] = {
            "id": self.id,
            "base_model": self.base_model,
            "created_on": self.created_ms,
            "training_data": self.training_data,
            "validation_data": self.validation_data,
        }
        if self.options:
            base["options"] = dict(self.options)
        if self.error is not None:
            return {
                **base,
                "status": "ERROR",
                "progress": 0.0,
                "error": dict(self.error),
                "finished_on": self.created_ms + 1000,
            }
        elapsed = now_ms - self.created_ms
        if self.cancelled_ms is not None and self.cancelled_ms < self.finish_ms:
            return {
                **base,
                "status": "CANCELLED",
                "progress": self._progress(self.cancelled_ms - self.created_ms),
                "finished_on": self.cancelled_ms,
            }
        if now_ms >= self.finish_ms:
            return {
                **base,
                "status": "SUCCESS",
                "progress": 1.0,
                "model": self.model,
                "finished_on": self.finish_ms,
                "trained_tokens": self.trained_tokens,
                "training_result": dict(self.training_result or {}),
            }
        status = "PENDING" if elapsed < self.pending_s * 1000 else "IN_PROGRESS"
        return {**base, "status": status, "progress": self._progress(elapsed)}

    @property
    def finish_ms(self) -> int:
        """When the job finishes training, absent cancellation or error."""
        return self.created_ms + round((self.pending_s + self.duration_s) * 1000)

    def _progress(self, elapsed_ms: int) -> float:
        running = elapsed_ms / 1000 - self.pending_s
        if running <= 0 or self.duration_s <= 0:
            return 0.0
        return round(min(running / self.duration_s, 0.999), 3)

    def summary(self, now_ms: int) -> dict[str, Any]:
        """The SHOW entry of this job."""
        state = self.state(now_ms)
        return {k: state[k] for k in ("id", "status", "base_model", "created_on")}


class JobStore:
    """Job records and adapter pairs, in memory or as JSON files under a directory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._jobs: dict[str, JobRecord] = {}
        self._pairs: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.RLock()
        if self.path is not None:
            (self.path / "jobs").mkdir(parents=True, exist_ok=True)
            (self.path / "adapters").mkdir(parents=True, exist_ok=True)

    def put(self, job: JobRecord) -> None:
        """Insert or replace a job record."""
        with self._lock:
            self._jobs[job.id] = job
            if self.path is not None:
                _atomic_write(self.path / "jobs" / f"{job.id}.json", asdict(job))

    def get(self, job_id: str) -> JobRecord | None:
        """The record with ``job_id``, read fresh from disk when persistent."""
        with self._lock:
            if self.path is not None:
                file = self.path / "jobs" / f"{job_id}.json"
                if _safe_id(job_id) and file.is_file():
                    self._jobs[job_id] = JobRecord(**json.loads(file.read_text("utf-8")))
            return self._jobs.get(job_id)

    def all(self) -> list[JobRecord]:
        """Every job, oldest first."""
        with self._lock:
            if self.path is not None:
                for file in (self.path / "jobs").glob("*.json"):
                    self.get(file.stem)
            return sorted(self._jobs.values(), key=lambda j: (j.created_ms, j.id))

    def put_pairs(self, job_id: str, pairs: list[tuple[str, str]]) -> None:
        """Store the training pairs a job's adapter is built from."""
        with self._lock:
            self._pairs[job_id] = pairs
            if self.path is not None:
                _atomic_write(self.path / "adapters" / f"{job_id}.json", pairs)

    def get_pairs(self, job_id: str) -> list[tuple[str, str]]:
        """The training pairs of a job's adapter (empty when unknown)."""
        with self._lock:
            if job_id not in self._pairs and self.path is not None:
                file = self.path / "adapters" / f"{job_id}.json"
                if file.is_file():
                    self._pairs[job_id] = [
                        (str(p), str(c)) for p, c in json.loads(file.read_text("utf-8"))
                    ]
            return self._pairs.get(job_id, [])


def _safe_id(job_id: str) -> bool:
    return bool(job_id) and "/" not in job_id and "\\" not in job_id and not job_id.startswith(".")


def _atomic_write(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    os.replace(tmp, path)


def epochs_from_options(options: Any) -> int | None:
    """``max_epochs`` from FINETUNE's options: "A string representation of a JSON object"
    (an OBJECT is taken too), whose one documented key is ``max_epochs``, 1 to 10."""
    if options is None:
        return None
    if isinstance(options, str):
        try:
            options = json.loads(options) if options.strip() else {}
        except json.JSONDecodeError as exc:
            raise invalid_argument(f"options must be a JSON object: {exc.msg}") from exc
    if not isinstance(options, dict):
        raise invalid_argument('options must be a JSON object such as {"max_epochs": 3}')
    options = {str(k).lower(): v for k, v in options.items()}
    unknown = sorted(set(options) - {"max_epochs"})
    if unknown:
        raise invalid_argument(f"invalid options object: unknown option(s) {', '.join(unknown)}")
    epochs = options.get("max_epochs")
    if epochs is None:
        return None
    if isinstance(epochs, float) and epochs.is_integer():
        epochs = int(epochs)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 10:
        raise invalid_argument("invalid options object: max_epochs must be an integer from 1 to 10")
    return epochs
