"""2-D maps of a corpus (UMAP, PCA for small corpora), cached on disk."""
from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Callable

import numpy as np

# the KMeans helper moved to analysis.clusters; the old name keeps its callers working
from scimult_app.analysis.clusters import kmeans_clusters as clusters  # noqa: F401
from scimult_app.paths import atomic_write_bytes, cache_dir

UMAP_MIN = 15  # fewer papers than this: PCA instead of UMAP


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def projection_note(n: int) -> str:
    """What the map of n papers is, when it is not a UMAP ('' for UMAP)."""
    if n >= UMAP_MIN:
        return ""
    if n >= 3:
        return (f"{n} papers are too few for UMAP (it needs {UMAP_MIN}); the map shows the first "
                "two principal components (PCA) instead.")
    if n == 0:
        return "There are no papers to place on the map."
    return f"{n} paper{'s' if n > 1 else ''}: too few for a projection; shown at fixed points."


def project(vectors: np.ndarray, metric: str = "cosine", seed: int = 42, n_neighbors: int = 15,
            min_dist: float = 0.1) -> tuple[np.ndarray, str]:
    """(n, 2) float32 coordinates and a note; the same input and seed give the same map.

    UMAP from 15 papers (n_neighbors clipped to n - 1; a fixed random_state makes UMAP run on
    one thread), PCA for 3-14 (cosine: on L2-normalised vectors), fixed points for 1-2.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    note = projection_note(n)
    if n < 3:
        return np.array([[0.0, 0.0], [1.0, 0.0]][:n], dtype=np.float32).reshape(n, 2), note
    if n < UMAP_MIN:
        from sklearn.decomposition import PCA
        data = _normalise(vectors) if metric == "cosine" else vectors
        if data.shape[1] < 2:
            data = np.hstack([data, np.zeros((n, 2 - data.shape[1]), dtype=np.float32)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # identical papers: zero variance
            coords = PCA(n_components=2, svd_solver="full").fit_transform(data.astype(np.float64))
        return coords.astype(np.float32), note
    import umap  # slow to import (numba): only when a map is drawn
    reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbors, n - 1)),
                        min_dist=min_dist, metric=metric, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(vectors)
    return np.asarray(coords, dtype=np.float32), note


def projection_path(vectors: np.ndarray, key: str, options: dict):
    """cache_dir()/projections/<sha256 of key, options, shape and vector bytes>.npy"""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    digest = hashlib.sha256()
    digest.update(json.dumps([key, sorted(options.items()), list(vectors.shape)],
                             default=str).encode())
    digest.update(vectors.tobytes())
    return cache_dir() / "projections" / f"{digest.hexdigest()}.npy"


def cached_project(vectors: np.ndarray, key: str, projector: Callable = project,
                   **options) -> tuple[np.ndarray, str]:
    """project() with the coordinates kept on disk; a missing or corrupt file is recomputed."""
    vectors = np.asarray(vectors, dtype=np.float32)
    path = projection_path(vectors, key, options)
    if path.is_file():
        try:
            coords = np.load(path, allow_pickle=False)
            if coords.shape == (len(vectors), 2):
                return coords, projection_note(len(vectors))
        except (OSError, ValueError, EOFError):
            pass
    coords, note = projector(vectors, **options)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(coords, dtype=np.float32), allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    return np.asarray(coords, dtype=np.float32), note
