"""The emulator's stand-in for a LoRA adapter: a nearest-centroid model over the training prompts.

A fine-tuned model in the emulator answers a prompt with one of the training completions: the
one whose prompts, taken together, are most similar to it (TF-IDF vectors over word tokens,
averaged per distinct completion, cosine similarity). Averaging keeps the words that all
prompts of a completion share and washes out the rest, so a label such as
``{"truck": "Smoky BBQ", "location": "Denver"}`` is chosen by the words that matter. When
every completion is unique this is plain nearest neighbour. An exact training prompt returns
its own completion; a prompt sharing no word with any training prompt gets the most common
completion. Its losses are
honest measurements of that rule: ``1 - token F1`` between the adapter's answer and the
expected completion, averaged over the training rows and over the validation rows. They are
not cross-entropy losses and are not comparable with a real job's numbers.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return _WORD.findall(text.lower())


class Adapter:
    """A nearest-centroid model over prompt/completion pairs."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = [(p, c) for p, c in pairs if p is not None and c is not None]
        self._exact = dict(self.pairs)
        counts = Counter(c for _, c in self.pairs)
        self._fallback = counts.most_common(1)[0][0] if counts else ""
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._idf: dict[str, float] = {}
        self._labels: list[str] = []
        self._build()

    def _build(self) -> None:
        docs = [Counter(tokens(p)) for p, _ in self.pairs]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = max(len(docs), 1)
        self._idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        centroids: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for doc, (_, completion) in zip(docs, self.pairs, strict=True):
            weights = {t: tf * self._idf[t] for t, tf in doc.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for t, w in weights.items():
                centroids[completion][t] += w / norm
        self._labels = list(centroids)
        for i, label in enumerate(self._labels):
            centroid = centroids[label]
            norm = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
            for t, w in centroid.items():
                self._postings[t].append((i, w / norm))

    def answer(self, prompt: str) -> str:
        """The training completion whose prompts are most similar to ``prompt``."""
        exact = self._exact.get(prompt)
        if exact is not None:
            return exact
        query = Counter(tokens(prompt))
        scores: dict[int, float] = defaultdict(float)
        for t, tf in query.items():
            idf = self._idf.get(t)
            if idf is None:
                continue
            for i, w in self._postings[t]:
                scores[i] += tf * idf * w
        if not scores:
            return self._fallback
        best = max(scores.items(), key=lambda item: (item[1], -item[0]))[0]
        return self._labels[best]

    def loss(self, pairs: Iterable[tuple[str, str]]) -> float | None:
        """Mean ``1 - token F1`` of the adapter's answers against ``pairs``; None if empty."""
        losses = [1.0 - token_f1(self.answer(p), c) for p, c in pairs if p is not None]
        if not losses:
            return None
        return sum(losses) / len(losses)


def token_f1(predicted: str, expected: str | None) -> float:
    """Token-overlap F1 between two texts (1.0 for two empty texts)."""
    pred, gold = Counter(tokens(predicted)), Counter(tokens(expected or ""))
    if not pred and not gold:
        return 1.0
    common = sum((pred & gold).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(gold.values())
    return 2 * precision * recall / (precision + recall)
