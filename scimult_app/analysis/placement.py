"""Exact nearest neighbours among a sample, and papers placed on a map by their nearest
sampled papers: the part of a big corpus's map that UMAP was not fitted on."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scimult_app.analysis.ranking import top_k_chunked, unit_rows

METRICS = ("cosine", "euclidean")
DUPLICATE = 1e-6  # a distance this small: the same paper, placed exactly on its twin
CHUNK = 20_000


def _check(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose {' or '.join(METRICS)}")


def nearest_rows(queries: np.ndarray, candidates: np.ndarray, k: int, metric: str = "cosine"
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (n_queries, k), nearest first: the exact k nearest candidates
    of every query. Cosine distance is 1 - cosine similarity; euclidean is the plain length.
    faiss (flat index: exact) when installed, else chunked matrix products."""
    _check(metric)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    candidates = np.ascontiguousarray(candidates, dtype=np.float32)
    k = min(k, len(candidates))
    if metric == "cosine":
        queries, candidates = unit_rows(queries), unit_rows(candidates)
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        width = queries.shape[1]
        index = faiss.IndexFlatIP(width) if metric == "cosine" else faiss.IndexFlatL2(width)
        index.add(candidates)
        found, indices = index.search(queries, k)
    else:
        if metric == "cosine":
            indices, found = top_k_chunked(queries, candidates, k, "dot")
        else:  # nearest by length = best by 2 q.c - |c|^2 (|q|^2 is the same for a row)
            ones = np.ones((len(queries), 1), dtype=np.float32)
            lifted = np.hstack([2 * candidates, -np.einsum("ij,ij->i", candidates,
                                                           candidates)[:, None]])
            indices, found = top_k_chunked(np.hstack([queries, ones]), lifted, k, "dot")
            found = np.einsum("ij,ij->i", queries, queries)[:, None] - found
    distances = 1 - found if metric == "cosine" else np.sqrt(np.maximum(found, 0))
    return indices.astype(np.int64), np.maximum(distances, 0).astype(np.float32)


def neighbour_weights(distances: np.ndarray) -> np.ndarray:
    """Each row's weights (summing to 1) from its neighbours' distances, nearest first:
    1 / distance, so the nearer a sampled paper, the more it pulls; a row whose nearest is a
    duplicate (distance <= DUPLICATE) puts all its weight there."""
    distances = np.asarray(distances, dtype=np.float64)
    weights = 1 / np.maximum(distances, DUPLICATE)
    twins = distances[:, 0] <= DUPLICATE
    weights[twins] = 0
    weights[twins, 0] = 1
    return weights / weights.sum(axis=1, keepdims=True)


def place_by_neighbours(queries: np.ndarray, sampled: np.ndarray, sampled_coords: np.ndarray,
                        k: int = 10, metric: str = "cosine", chunk: int = CHUNK,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(n_queries, 2) float32: each query at the weighted average (neighbour_weights) of the map
    positions of its k nearest `sampled` rows, whose positions are `sampled_coords`."""
    sampled_coords = np.asarray(sampled_coords, dtype=np.float64)
    placed = np.zeros((len(queries), 2), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        indices, distances = nearest_rows(queries[start:start + chunk], sampled, k, metric)
        weights = neighbour_weights(distances)
        placed[start:start + len(indices)] = np.einsum("ij,ijc->ic", weights,
                                                       sampled_coords[indices])
        if progress:
            progress(start + len(indices), len(queries))
    return placed


def neighbour_overlap(vectors: np.ndarray, coords: np.ndarray, k: int = 10,
                      metric: str = "cosine") -> float:
    """How well a map keeps neighbourhoods: the mean share of each point's k nearest
    neighbours in `vectors` (by `metric`) that are also among its k nearest on the map
    (euclidean), the point itself left out. 1.0: every neighbourhood kept."""
    n = len(vectors)
    k = min(k, n - 1)
    if k < 1:
        return 1.0
    high, _ = nearest_rows(vectors, vectors, k + 1, metric)
    low, _ = nearest_rows(coords, coords, k + 1, "euclidean")
    shared = 0
    for row in range(n):  # drop the point itself (or one twin of it) from each list
        a = [i for i in high[row] if i != row][:k]
        b = [i for i in low[row] if i != row][:k]
        shared += len(set(a) & set(b))
    return shared / (n * k)
