"""Scores and top-k: queries against candidates with the checkpoint's own score function."""
from __future__ import annotations

import numpy as np


def scores(queries: np.ndarray, candidates: np.ndarray, score_function: str = "dot") -> np.ndarray:
    """(n_queries, n_candidates) scores: dot product, or cosine for mean-pooled models."""
    queries = np.asarray(queries, dtype=np.float32)
    candidates = np.asarray(candidates, dtype=np.float32)
    if score_function == "cosine":
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        candidates = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    elif score_function != "dot":
        raise ValueError(f"unknown score function {score_function!r}")
    return queries @ candidates.T


def top_k(score_matrix: np.ndarray, k: int, exclude: list[int | None] | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best candidates per row, best first (ties: lower index).

    `exclude[row]` drops one candidate from that row (a paper is not its own neighbour).
    """
    matrix = np.array(score_matrix, dtype=np.float32, copy=True)
    if exclude is not None:
        for row, column in enumerate(exclude):
            if column is not None:
                matrix[row, column] = -np.inf
    k = max(0, min(k, matrix.shape[1] - (1 if exclude is not None else 0)))
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(matrix, order, axis=1)


def rank_rows(score_matrix: np.ndarray, query_ids: list[str], doc_ids: list[str],
              k: int) -> list[dict]:
    """One record per hit: query_id, doc_id, rank (from 1) and score."""
    indices, values = top_k(score_matrix, k)
    return [{"query_id": query_ids[row], "doc_id": doc_ids[column], "rank": rank + 1,
             "score": float(value)}
            for row in range(len(query_ids))
            for rank, (column, value) in enumerate(zip(indices[row], values[row]))]
