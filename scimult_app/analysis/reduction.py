"""Big corpora in few dimensions: a seeded sample of papers, and every paper's first principal
components (PCA fitted on that sample), read a chunk at a time so vectors may be memory-mapped."""
from __future__ import annotations

import numpy as np

from scimult_app.analysis.ranking import unit_rows

PCA_DIMS = 50
CHUNK = 20_000


def sample_rows(n: int, sample: int, seed: int = 42) -> np.ndarray:
    """A seeded random `sample` of range(n), in order; every row when n <= sample."""
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))


def principal_components(vectors: np.ndarray, fitted: np.ndarray, metric: str = "cosine",
                         seed: int = 42, dims: int = PCA_DIMS, chunk: int = CHUNK
                         ) -> np.ndarray:
    """(n, dims) float32: every row on the first `dims` principal components of the rows
    `fitted` (cosine: of the L2-normalised vectors); fewer when fewer rows are fitted.
    Vectors of at most `dims` columns come back unreduced (normalised under cosine)."""
    def prepared(rows) -> np.ndarray:
        block = np.asarray(vectors[rows], dtype=np.float32)
        return unit_rows(block) if metric == "cosine" else block

    n, width = vectors.shape
    if width <= dims:
        return np.vstack([prepared(slice(start, start + chunk)) for start in range(0, n, chunk)]
                         ) if n else np.zeros((0, width), dtype=np.float32)
    from sklearn.decomposition import PCA
    pca = PCA(n_components=min(dims, len(fitted)), svd_solver="randomized", random_state=seed)
    pca.fit(prepared(fitted))
    reduced = np.empty((n, pca.n_components_), dtype=np.float32)
    for start in range(0, n, chunk):
        reduced[start:start + chunk] = pca.transform(prepared(slice(start, start + chunk)))
    return reduced
