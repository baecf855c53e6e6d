"""How the task experts differ: neighbour overlap, agreement tables, aligned maps."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from scimult_app.analysis.ranking import top_k_chunked
from scimult_app.analysis.reduction import sample_rows


def overlap_at_k(a: Sequence, b: Sequence, k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / k, with k cut to the longer list (identical lists give 1.0)."""
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    depth = min(k, max(len(a), len(b)))
    if depth == 0:
        return 0.0
    return len(set(list(a)[:k]) & set(list(b)[:k])) / depth


def _neighbour_lists(query_vectors, candidate_vectors, k: int, score_function: str,
                     rows: np.ndarray) -> np.ndarray:
    """(len(rows), k) indices of the k best candidates of each paper in `rows`, itself
    excluded (chunked top-k, never an n x n matrix)."""
    return top_k_chunked(np.asarray(query_vectors[rows]), candidate_vectors, k, score_function,
                         exclude=[int(row) for row in rows])[0]


def _mean_shared(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> float:
    """Mean count of entries two (n, k) neighbour lists share row by row, in row chunks."""
    shared = 0
    for start in range(0, len(a), chunk):
        rows_a, rows_b = a[start:start + chunk], b[start:start + chunk]
        shared += int((rows_a[:, :, None] == rows_b[:, None, :]).sum())
    return shared / len(a)


def agreement(vectors_by_expert: dict, k: int = 10, score_function: str = "dot",
              sample: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Mean neighbour overlap@k for each pair of experts, every paper as query (not itself).

    `vectors_by_expert`: name -> (query vectors, candidate vectors) of the same corpus.
    k is cut to n - 1; the diagonal is 1.0; with fewer than 2 papers the rest is NaN.
    `sample`: above that many papers, only a seeded random sample of them are the queries
    (their neighbours still come from every paper).
    """
    names = list(vectors_by_expert)
    table = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    n = len(next(iter(vectors_by_expert.values()))[0]) if names else 0
    k = min(k, n - 1)
    if k < 1:
        table[:] = np.where(np.eye(len(names)) > 0, 1.0, np.nan)
        return table
    rows = sample_rows(n, sample, seed) if sample is not None else np.arange(n)
    lists = {name: _neighbour_lists(q, c, k, score_function, rows)
             for name, (q, c) in vectors_by_expert.items()}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            table.loc[a, b] = table.loc[b, a] = _mean_shared(lists[a], lists[b]) / k
    return table


def top_k_by_expert(vectors_by_expert: dict, ids: Sequence[str], k: int = 10,
                    score_function: str = "dot", exclude: int | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For one query: ranked ids per expert (one column each, index = rank from 1) and the
    square table of overlap@k between the experts' lists.

    `vectors_by_expert`: name -> (query vector (d,) or (1, d), candidate vectors);
    `exclude`: a candidate index to leave out (the query paper itself).
    """
    rankings = {}
    for name, (query, candidates) in vectors_by_expert.items():
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        indices, _ = top_k_chunked(query, candidates, k, score_function,
                                   exclude=None if exclude is None else [exclude])
        rankings[name] = [ids[i] for i in indices[0]]
    depth = min(len(r) for r in rankings.values()) if rankings else 0
    ranked = pd.DataFrame({name: r[:depth] for name, r in rankings.items()},
                          index=pd.RangeIndex(1, depth + 1, name="rank"))
    names = list(rankings)
    overlaps = pd.DataFrame([[overlap_at_k(rankings[a], rankings[b], k) if depth else np.nan
                              for b in names] for a in names], index=names, columns=names)
    return ranked, overlaps


def align(reference_coords: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """`coords` rotated (or reflected), scaled and shifted to best match `reference_coords`
    (orthogonal Procrustes, least squares); rows must be the same points in the same order."""
    reference = np.asarray(reference_coords, dtype=np.float64)
    moving = np.asarray(coords, dtype=np.float64)
    if reference.shape != moving.shape:
        raise ValueError(f"cannot align maps of shapes {moving.shape} and {reference.shape}")
    out_dtype = np.result_type(np.asarray(coords).dtype, np.float32)
    if len(moving) == 0:
        return moving.astype(out_dtype)
    reference_mean, moving_mean = reference.mean(axis=0), moving.mean(axis=0)
    a, b = reference - reference_mean, moving - moving_mean
    norm = float((b ** 2).sum())
    if norm == 0.0:
        return np.broadcast_to(reference_mean, moving.shape).astype(out_dtype)
    u, singular, vt = np.linalg.svd(b.T @ a)
    rotation = u @ vt
    scale = singular.sum() / norm
    return (scale * b @ rotation + reference_mean).astype(out_dtype)
