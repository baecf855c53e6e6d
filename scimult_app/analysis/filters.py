"""Year and label filters over a corpus, as plain functions."""
from __future__ import annotations

import numpy as np

from scimult_app.corpus.documents import Document


def year_bounds(docs: list[Document]) -> tuple[int, int]:
    years = [doc.year for doc in docs if doc.year]
    return (min(years), max(years)) if years else (0, 0)


def label_options(docs: list[Document]) -> list[str]:
    return sorted({label for doc in docs for label in doc.labels})


def filter_mask(docs: list[Document], years: tuple[int, int] | None = None,
                labels: list[str] | None = None) -> np.ndarray:
    """True for papers within `years` (papers without a year pass) having any of `labels`."""
    mask = np.ones(len(docs), dtype=bool)
    for i, doc in enumerate(docs):
        if years and years != (0, 0) and doc.year and not years[0] <= doc.year <= years[1]:
            mask[i] = False
        if labels and not set(labels) & set(doc.labels):
            mask[i] = False
    return mask
