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


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32); zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def row_norms(matrix: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """L2 norm of every row (float32), a chunk at a time (works on memory-mapped arrays)."""
    norms = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), chunk):
        block = np.asarray(matrix[start:start + chunk], dtype=np.float32)
        norms[start:start + len(block)] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


_BLAS = None


def _one_blas_thread():
    """A context that runs BLAS on one thread: a few queries against many candidates is a
    memory-bound product, and on a busy machine BLAS threads waiting for each other made it
    up to 50x slower than one thread (measured here, 10k x 384)."""
    global _BLAS
    try:
        if _BLAS is None:
            from threadpoolctl import ThreadpoolController
            _BLAS = ThreadpoolController()
        return _BLAS.limit(limits=1, user_api="blas")
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, BLAS as it is
        import contextlib
        return contextlib.nullcontext()


def _best_in_block(block: np.ndarray, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of each row of one score block (global indices), unordered; ties at
    the k-th score keep the lowest indices, as a stable full sort would."""
    if k >= block.shape[1]:
        columns = np.broadcast_to(np.arange(block.shape[1]), block.shape)
        return columns + offset, block
    columns = np.argpartition(-block, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(block, columns, axis=1)
    threshold = values.min(axis=1)
    tied = np.flatnonzero((block >= threshold[:, None]).sum(axis=1) > k)
    for row in tied:  # rare with real scores: settle the boundary with a stable sort
        columns[row] = np.argsort(-block[row], kind="stable")[:k]
        values[row] = block[row, columns[row]]
    return columns + offset, values


def top_k_chunked(queries: np.ndarray, candidates: np.ndarray, k: int,
                  score_function: str = "dot", exclude: list[int | None] | None = None,
                  query_chunk: int = 256, candidate_chunk: int = 65536,
                  candidate_norms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of `scores(queries, candidates)` without the full matrix or a full sort.

    Scores a (query_chunk x candidate_chunk) block at a time, keeps each block's k best by
    `argpartition`, and orders the survivors; the result equals `top_k(scores(...), k, exclude)`
    (best first, ties to the lower index). `candidates` may be a memory-mapped array.
    `candidate_norms` (cosine only): `row_norms(candidates)`, computed once by the caller
    that searches the same candidates many times.
    """
    queries = np.asarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries.reshape(1, -1)
    if len(queries) <= 16:
        with _one_blas_thread():
            return _top_k_blocks(queries, candidates, k, score_function, exclude, query_chunk,
                                 candidate_chunk, candidate_norms)
    return _top_k_blocks(queries, candidates, k, score_function, exclude, query_chunk,
                         candidate_chunk, candidate_norms)


def _top_k_blocks(queries, candidates, k, score_function, exclude, query_chunk,
                  candidate_chunk, candidate_norms) -> tuple[np.ndarray, np.ndarray]:
    if score_function == "cosine":
        queries = unit_rows(queries)
    elif score_function != "dot":
        raise ValueError(f"unknown score function {score_function!r}")
    n = len(candidates)
    k = max(0, min(k, n - (1 if exclude is not None else 0)))
    indices = np.zeros((len(queries), k), dtype=np.int64)
    values = np.zeros((len(queries), k), dtype=np.float32)
    if k == 0:
        return indices, values
    for q_start in range(0, len(queries), query_chunk):
        q_stop = min(q_start + query_chunk, len(queries))
        kept_columns, kept_values = [], []
        for c_start in range(0, n, candidate_chunk):
            block_candidates = np.asarray(candidates[c_start:c_start + candidate_chunk],
                                          dtype=np.float32)
            block = queries[q_start:q_stop] @ block_candidates.T
            if score_function == "cosine":
                norms = (row_norms(block_candidates) if candidate_norms is None
                         else candidate_norms[c_start:c_start + len(block_candidates)])
                block /= np.maximum(norms, 1e-12)
            if exclude is not None:
                for row, column in enumerate(exclude[q_start:q_stop]):
                    if column is not None and c_start <= column < c_start + block.shape[1]:
                        block[row, column - c_start] = -np.inf
            columns, best = _best_in_block(block, k, c_start)
            kept_columns.append(columns)
            kept_values.append(best)
        columns = np.hstack(kept_columns)
        best = np.hstack(kept_values)
        order = np.lexsort((columns, -best), axis=-1)[:, :k]  # score descending, then index
        indices[q_start:q_stop] = np.take_along_axis(columns, order, axis=1)
        values[q_start:q_stop] = np.take_along_axis(best, order, axis=1)
    return indices, values


def hits(indices: np.ndarray, values: np.ndarray, query_ids: list[str], doc_ids
         ) -> list[dict]:
    """One record per hit (query_id, doc_id, rank from 1, score) from top-k arrays."""
    return [{"query_id": query_ids[row], "doc_id": str(doc_ids[column]), "rank": rank + 1,
             "score": float(value)}
            for row in range(len(query_ids))
            for rank, (column, value) in enumerate(zip(indices[row], values[row]))]
