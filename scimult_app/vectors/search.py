"""Top-k over a vector set: exact (chunked, `argpartition`) or through its faiss index.

`method="auto"` uses the saved HNSW index when the set has at least INDEX_THRESHOLD vectors
and an up-to-date index exists, and exact search otherwise; `ensure_index` builds it once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scimult_app.analysis.ranking import top_k_chunked
from scimult_app.vectors.index import INDEX_THRESHOLD, build_index, load_index, search_index
from scimult_app.vectors.store import VectorSet


@dataclass
class SearchResult:
    indices: np.ndarray  # (n_queries, k) rows of the set, best first
    scores: np.ndarray  # (n_queries, k)
    ids: list[list[str]]  # the same hits as ids
    method: str  # "exact" or "faiss-hnsw"


def ensure_index(vector_set: VectorSet, score_function: str = "dot", progress=None):
    """The set's index, built and saved first when it is missing or stale."""
    index = load_index(vector_set, score_function)
    if index is None:
        build_index(vector_set, score_function, progress=progress)
        index = load_index(vector_set, score_function)
    return index


def search(vector_set: VectorSet, query_vectors: np.ndarray, k: int = 10,
           score_function: str = "dot", method: str = "auto") -> SearchResult:
    """The k best rows of the set for each query vector. `method`: auto, exact or faiss
    (faiss builds the index when missing; auto never builds one)."""
    if method not in ("auto", "exact", "faiss"):
        raise ValueError(f"unknown search method {method!r}; choose auto, exact or faiss")
    queries = np.asarray(query_vectors, dtype=np.float32).reshape(-1, vector_set.dim or 0)
    index = None
    if method == "faiss":
        index = ensure_index(vector_set, score_function)
    elif method == "auto" and len(vector_set) >= INDEX_THRESHOLD:
        index = load_index(vector_set, score_function)
    if index is not None:
        indices, values = search_index(index, queries, k, score_function)
        used = "faiss-hnsw"
    else:
        norms = vector_set.norms() if score_function == "cosine" else None
        indices, values = top_k_chunked(queries, vector_set.vectors(), k, score_function,
                                        candidate_norms=norms)
        used = "exact"
    ids = vector_set.ids()
    return SearchResult(indices, values, [[ids[i] for i in row if i >= 0] for row in indices], used)
