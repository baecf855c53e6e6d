"""Classification as retrieval: each paper's best labels, their distribution, recall against gold."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd

from scimult_app.analysis.ranking import scores, top_k


def predict(paper_vectors: np.ndarray, label_vectors: np.ndarray, k: int,
            score_function: str = "dot") -> tuple[np.ndarray, np.ndarray]:
    """Per paper, indices and scores of its k best labels, best first."""
    return top_k(scores(paper_vectors, label_vectors, score_function), k)


def evaluate(predicted: list[list[str]], gold: list[list[str]], k: int,
             label_ids: Iterable[str] | None = None) -> dict:
    """Recall@k, accuracy (top-1 in gold) and papers evaluated.

    Only gold labels in the label set count (`label_ids`; if not given, the labels seen in
    `predicted`); papers with none are left out. Both scores are 0.0 when no paper counts.
    """
    known = set(label_ids) if label_ids is not None else {l for row in predicted for l in row}
    recalls, hits = [], []
    for ranked, wanted in zip(predicted, gold):
        wanted = set(wanted) & known
        if not wanted:
            continue
        recalls.append(len(wanted & set(ranked[:k])) / len(wanted))
        hits.append(bool(ranked) and ranked[0] in wanted)
    count = len(recalls)
    return {"recall_at_k": sum(recalls) / count if count else 0.0,
            "accuracy": sum(hits) / count if count else 0.0,
            "papers_evaluated": count}


def label_names(labels: Iterable) -> dict[str, str]:
    """label id -> the name to show: the name, with the id beside it where two labels share a
    name (arXiv has two "Machine Learning": cs.LG and stat.ML)."""
    labels = list(labels)
    counts = Counter(label.name for label in labels)
    return {label.label: label.name if counts[label.name] == 1 or label.name == label.label
            else f"{label.name} ({label.label})" for label in labels}


def distribution(predicted_top1: Iterable[str]) -> pd.DataFrame:
    """How often each label is a paper's top-1 label: columns label, count; most first."""
    counts = Counter(predicted_top1)
    rows = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return pd.DataFrame(rows, columns=["label", "count"])
