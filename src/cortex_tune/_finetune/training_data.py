"""Training data described as a table and a column mapping, rendered with validated identifiers."""

from __future__ import annotations

from dataclasses import dataclass

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.identifiers import quote_column, validate_name


def normalise_query(query: str) -> str:
    """Strip whitespace and trailing semicolons from a training query.

    Cortex runs the query as ``SELECT "PROMPT", "COMPLETION" FROM (<query>)``: a trailing ``;``
    fails the job asynchronously, and a ``--`` comment on the last line would swallow the
    closing parenthesis, so such a query gets a final newline.
    """
    if not isinstance(query, str) or not query.strip():
        raise ConfigurationError("a training or validation query must be a non-empty string")
    if "\x00" in query:
        raise ConfigurationError("a training query cannot contain a NUL character")
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise ConfigurationError("the training query is only semicolons")
    if "--" in text.rsplit("\n", 1)[-1]:
        text += "\n"
    return text


@dataclass(frozen=True)
class TrainingData:
    """A table (or view) of prompt/completion pairs, with the columns that hold them.

    Example:
        >>> TrainingData.table("SUPPORT.TRAIN", prompt="BODY", completion="GOLDEN_JSON").to_sql()
        'SELECT BODY AS prompt, GOLDEN_JSON AS completion FROM SUPPORT.TRAIN'

    Attributes:
        source: The table name, optionally qualified (``DB.SCHEMA.TABLE``).
        prompt: The column holding prompts.
        completion: The column holding completions.
        where: An optional SQL condition selecting rows, e.g. ``"MOD(ID, 10) < 8"``.
    """

    source: str
    prompt: str = "PROMPT"
    completion: str = "COMPLETION"
    where: str | None = None

    def __post_init__(self) -> None:
        validate_name(self.source, what="table name")
        quote_column(self.prompt)
        quote_column(self.completion)
        if self.where is not None and (not self.where.strip() or ";" in self.where):
            raise ConfigurationError(
                f"invalid filter {self.where!r}: give one SQL condition without ';'"
            )

    @classmethod
    def table(
        cls,
        name: str,
        *,
        prompt: str = "PROMPT",
        completion: str = "COMPLETION",
        where: str | None = None,
    ) -> TrainingData:
        """Training data from table ``name``, its ``prompt`` and ``completion`` columns."""
        return cls(name, prompt, completion, where)

    def filter(self, condition: str) -> TrainingData:
        """The same data with an extra SQL condition (ANDed with any existing one)."""
        where = condition if self.where is None else f"({self.where}) AND ({condition})"
        return TrainingData(self.source, self.prompt, self.completion, where)

    def to_sql(self) -> str:
        """The query FINETUNE runs for this data."""
        sql = (
            f"SELECT {quote_column(self.prompt)} AS prompt, "  # noqa: S608 - validated identifiers
            f"{quote_column(self.completion)} AS completion FROM {self.source}"
        )
        if self.where:
            sql += f" WHERE {self.where}"
        return sql

    def __str__(self) -> str:
        return self.to_sql()
