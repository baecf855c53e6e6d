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


def _coords_on_disk(path, n: int, compute: Callable) -> tuple[np.ndarray, str | None]:
    """(coordinates, None) read from `path` when it holds n points; else compute()'s
    (coordinates, note), saved there. A missing or corrupt file is recomputed."""
    if path.is_file():
        try:
            coords = np.load(path, allow_pickle=False)
            if coords.shape == (n, 2):
                return coords, None
        except (OSError, ValueError, EOFError):
            pass
    coords, note = compute()
    coords = np.asarray(coords, dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, coords, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    return coords, note


def cached_project(vectors: np.ndarray, key: str, projector: Callable = project,
                   **options) -> tuple[np.ndarray, str]:
    """project() with the coordinates kept on disk; a missing or corrupt file is recomputed."""
    vectors = np.asarray(vectors, dtype=np.float32)
    path = projection_path(vectors, key, options)
    coords, note = _coords_on_disk(path, len(vectors), lambda: projector(vectors, **options))
    return coords, projection_note(len(vectors)) if note is None else note


# ---------------------------------------------------------------- maps of big corpora

FIT_SAMPLE = 20_000  # UMAP is fitted on at most this many papers; the rest are placed
TRANSFORM_CHUNK = 20_000
PCA_DIMS = 50  # big maps: UMAP runs on the first 50 principal components (fitted on the sample)


def sampled_note(n: int, sample: int) -> str:
    """What a sampled projection is ('' when every point was fitted)."""
    if n <= sample:
        return projection_note(n)
    return (f"UMAP was fitted on a random sample of {sample:,} of the {n:,} papers (on their "
            f"first {PCA_DIMS} principal components); the other {n - sample:,} were placed on "
            "that map with UMAP's transform. Every paper is on the map.")


def project_sampled(vectors: np.ndarray, metric: str = "cosine", seed: int = 42,
                    sample: int = FIT_SAMPLE, n_neighbors: int = 15, min_dist: float = 0.1,
                    progress: Callable[[int, int], None] | None = None
                    ) -> tuple[np.ndarray, str]:
    """project() for any size: up to `sample` papers exactly as project(); above, UMAP fitted
    on a seeded random sample and `transform` for the rest, in chunks (rows keep their order).
    `vectors` may be memory-mapped: only the sample and one chunk are read at a time."""
    n = len(vectors)
    if n <= sample:
        return project(np.asarray(vectors, dtype=np.float32), metric, seed, n_neighbors,
                       min_dist)
    import umap
    rng = np.random.default_rng(seed)
    fitted = np.sort(rng.choice(n, sample, replace=False))

    def prepared(rows: np.ndarray) -> np.ndarray:
        block = np.asarray(vectors[rows], dtype=np.float32)
        return _normalise(block) if metric == "cosine" else block

    reduce = None
    if vectors.shape[1] > PCA_DIMS:  # neighbour search in 768-d is what makes UMAP slow
        from sklearn.decomposition import PCA
        pca = PCA(n_components=PCA_DIMS, svd_solver="randomized", random_state=seed)
        pca.fit(prepared(fitted))

        def reduce(block: np.ndarray) -> np.ndarray:
            return pca.transform(block).astype(np.float32)

    def features(rows: np.ndarray) -> np.ndarray:
        block = prepared(rows)
        return reduce(block) if reduce else block

    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist,
                        metric=metric, random_state=seed)
    coords = np.zeros((n, 2), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords[fitted] = reducer.fit_transform(features(fitted))
        rest = np.setdiff1d(np.arange(n), fitted, assume_unique=True)
        if progress:
            progress(sample, n)
        for start in range(0, len(rest), TRANSFORM_CHUNK):
            rows = rest[start:start + TRANSFORM_CHUNK]
            coords[rows] = reducer.transform(features(rows))
            if progress:
                progress(sample + start + len(rows), n)
    return coords, sampled_note(n, sample)


def keyed_projection_path(key: str, options: dict, shape: tuple):
    """cache_dir()/projections/<sha256 of key, options and shape>.npy: for vectors whose
    identity is known (a vector set's folder and revision), without reading their bytes."""
    digest = hashlib.sha256(json.dumps([key, sorted(options.items()), list(shape)],
                                       default=str).encode()).hexdigest()
    return cache_dir() / "projections" / f"keyed-{digest}.npy"


def cached_project_keyed(vectors: np.ndarray, key: str, projector: Callable = project_sampled,
                         **options) -> tuple[np.ndarray, str, bool]:
    """(coordinates, note, came from disk): projector() cached under a caller's key, which
    must change whenever the vectors do (e.g. vector set folder + revision + ids digest)."""
    path = keyed_projection_path(key, options, tuple(vectors.shape))
    sample = options.get("sample", FIT_SAMPLE)
    coords, note = _coords_on_disk(path, len(vectors), lambda: projector(vectors, **options))
    return coords, sampled_note(len(vectors), sample) if note is None else note, note is None


def density(coords: np.ndarray, bins: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts (bins_y, bins_x), x cell centres, y cell centres): a 2-D histogram of every
    point, the shading of a map too big to draw point by point."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    if not len(coords):
        return np.zeros((bins, bins)), np.zeros(bins), np.zeros(bins)
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - span * 0.01, high + span * 0.01
    counts, x_edges, y_edges = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins,
                                              range=[[low[0], high[0]], [low[1], high[1]]])
    return counts.T, (x_edges[:-1] + x_edges[1:]) / 2, (y_edges[:-1] + y_edges[1:]) / 2


def marker_rows(n: int, matches: np.ndarray | None, cap: int, seed: int = 0) -> np.ndarray:
    """Rows drawn as points on a density map: every match when there are at most `cap`,
    else a seeded random `cap` of them (rows in order). `matches` None: a sample of all."""
    pool = np.arange(n) if matches is None else np.flatnonzero(matches)
    if len(pool) <= cap:
        return pool
    return np.sort(np.random.default_rng(seed).choice(pool, cap, replace=False))
