"""2-D maps of a corpus (UMAP, PCA for small corpora), cached on disk."""
from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Callable

import numpy as np

from scimult_app.analysis.clusters import (
    hdbscan_clusters,
    kmeans_clusters,
    sampled_hdbscan_clusters,
    sampled_kmeans_clusters,
)

# the KMeans helper moved to analysis.clusters; the old name keeps its callers working
from scimult_app.analysis.clusters import kmeans_clusters as clusters  # noqa: F401
from scimult_app.analysis.placement import METRICS, nearest_rows, place_by_neighbours
from scimult_app.analysis.reduction import PCA_DIMS, principal_components, sample_rows
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


def _array_on_disk(path, shape: tuple, compute: Callable, dtype=np.float32
                   ) -> tuple[np.ndarray, object, bool]:
    """(array, extra, read from disk): the array in `path` when it has `shape`; else
    compute()'s (array, extra), saved there. A missing or corrupt file is recomputed."""
    if path.is_file():
        try:
            array = np.load(path, allow_pickle=False)
            if array.shape == shape:
                return array, None, True
        except (OSError, ValueError, EOFError):
            pass
    array, extra = compute()
    array = np.asarray(array, dtype=dtype)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    return array, extra, False


def _coords_on_disk(path, n: int, compute: Callable) -> tuple[np.ndarray, str | None]:
    """(coordinates, None) read from `path` when it holds n points; else compute()'s
    (coordinates, note), saved there. A missing or corrupt file is recomputed."""
    coords, note, _ = _array_on_disk(path, (n, 2), compute)
    return coords, note


def cached_project(vectors: np.ndarray, key: str, projector: Callable = project,
                   **options) -> tuple[np.ndarray, str]:
    """project() with the coordinates kept on disk; a missing or corrupt file is recomputed."""
    vectors = np.asarray(vectors, dtype=np.float32)
    path = projection_path(vectors, key, options)
    coords, note = _coords_on_disk(path, len(vectors), lambda: projector(vectors, **options))
    return coords, projection_note(len(vectors)) if note is None else note


# ---------------------------------------------------------------- maps of big corpora

FIT_SAMPLE = 15_000  # UMAP is fitted on at most this many papers; the rest are placed
FIT_EPOCHS = 200  # UMAP's own choice above 10,000 points (it takes 500 below)
PLACE_NEIGHBOURS = 10  # a placed paper sits among this many nearest sampled papers
MAP_VERSION = 2  # part of the keyed cache's names: maps made another way are not reused


def sampled_note(n: int, sample: int, neighbours: int = PLACE_NEIGHBOURS,
                 width: int | None = None) -> str:
    """What a sampled projection of n vectors of `width` dimensions is ('' when every point
    was fitted)."""
    if n <= sample:
        return projection_note(n)
    reduced = width is None or width > PCA_DIMS
    return (f"UMAP was fitted on a random sample of {sample:,} of the {n:,} papers"
            + (f" (on their first {min(PCA_DIMS, sample)} principal components)" if reduced
               else "")
            + f"; each of the other {n - sample:,} was placed at the distance-weighted average "
            f"of the map positions of its {neighbours} nearest sampled papers"
            + (" (on the same components)" if reduced else "") + ". Every paper is on the map.")


def umap_on_neighbours(features: np.ndarray, metric: str = "cosine", seed: int = 42,
                       n_neighbors: int = 15, min_dist: float = 0.1, n_epochs: int = FIT_EPOCHS
                       ) -> np.ndarray:
    """(n, 2) float32 UMAP of `features` (at least 4 rows), given its exact nearest neighbours
    (nearest_rows): UMAP's own approximate search is skipped, and with it most of numba's
    compiling on first use (measured in bench/app_scale.py)."""
    import umap
    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    indices, distances = nearest_rows(features, features, n_neighbors, metric)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist,
                        metric=metric, random_state=seed, n_epochs=n_epochs,
                        precomputed_knn=(indices.astype(np.int32), distances))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(reducer.fit_transform(features), dtype=np.float32)


def project_sampled(vectors: np.ndarray, metric: str = "cosine", seed: int = 42,
                    sample: int = FIT_SAMPLE, n_neighbors: int = 15, min_dist: float = 0.1,
                    progress: Callable[[int, int], None] | None = None,
                    neighbours: int = PLACE_NEIGHBOURS, n_epochs: int = FIT_EPOCHS
                    ) -> tuple[np.ndarray, str]:
    """project() for any size: up to `sample` papers exactly as project(); above, UMAP fitted on
    a seeded random sample (on PCA_DIMS principal components) and every other paper placed by
    its `neighbours` nearest sampled papers (place_by_neighbours). Rows keep their order.
    `vectors` may be memory-mapped: they are read a chunk at a time. metric: cosine or
    euclidean."""
    n = len(vectors)
    if n <= sample:
        return project(np.asarray(vectors, dtype=np.float32), metric, seed, n_neighbors,
                       min_dist)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} for a sampled map; choose "
                         f"{' or '.join(METRICS)}")
    fitted = sample_rows(n, sample, seed)
    features = principal_components(vectors, fitted, metric, seed)
    coords = np.zeros((n, 2), dtype=np.float32)
    coords[fitted] = umap_on_neighbours(features[fitted], metric, seed, n_neighbors, min_dist,
                                        n_epochs)
    if progress:
        progress(sample, n)
    rest = np.setdiff1d(np.arange(n), fitted, assume_unique=True)
    coords[rest] = place_by_neighbours(
        features[rest], features[fitted], coords[fitted], neighbours, metric,
        progress=(lambda done, _: progress(sample + done, n)) if progress else None)
    return coords, sampled_note(n, sample, neighbours, vectors.shape[1])


def keyed_projection_path(key: str, options: dict, shape: tuple):
    """cache_dir()/projections/<sha256 of key, options and shape>.npy: for vectors whose
    identity is known (a vector set's folder and revision), without reading their bytes."""
    digest = hashlib.sha256(json.dumps([MAP_VERSION, key, sorted(options.items()), list(shape)],
                                       default=str).encode()).hexdigest()
    return cache_dir() / "projections" / f"keyed-{digest}.npy"


def cached_project_keyed(vectors: np.ndarray, key: str, projector: Callable = project_sampled,
                         **options) -> tuple[np.ndarray, str, bool]:
    """(coordinates, note, came from disk): projector() cached under a caller's key, which
    must change whenever the vectors do (e.g. vector set folder + revision + ids digest)."""
    path = keyed_projection_path(key, options, tuple(vectors.shape))
    coords, note = _coords_on_disk(path, len(vectors), lambda: projector(vectors, **options))
    if note is None:
        note = sampled_note(len(vectors), options.get("sample", FIT_SAMPLE),
                            options.get("neighbours", PLACE_NEIGHBOURS), vectors.shape[1])
        return coords, note, True
    return coords, note, False


CLUSTER_METHODS = ("kmeans", "hdbscan")


def sampled_clusters(vectors: np.ndarray, coords: np.ndarray, method: str = "kmeans",
                     size: int | None = None, metric: str = "cosine", seed: int = 42,
                     sample: int = FIT_SAMPLE) -> np.ndarray:
    """The cluster of every paper of a map made by project_sampled (same seed and sample).

    Up to `sample` papers as on a small map: "kmeans" is kmeans_clusters of the vectors,
    "hdbscan" hdbscan_clusters of the map. Above, both are fitted on the sampled papers, the
    ones UMAP was fitted on: KMeans on their principal components (the rest join their
    nearest centre), HDBSCAN on their map positions (the rest join their nearest sampled
    point). `size`: k for kmeans, the smallest cluster in papers for hdbscan (None: default).
    """
    if method not in CLUSTER_METHODS:
        raise ValueError(f"unknown cluster method {method!r}; choose kmeans or hdbscan")
    n = len(vectors)
    if n <= sample:
        if method == "kmeans":
            return kmeans_clusters(np.asarray(vectors, dtype=np.float32), size)
        return hdbscan_clusters(coords, size)
    fitted = sample_rows(n, sample, seed)
    if method == "kmeans":
        return sampled_kmeans_clusters(principal_components(vectors, fitted, metric, seed),
                                       fitted, size)
    return sampled_hdbscan_clusters(coords, fitted, size)


def cached_clusters_keyed(vectors: np.ndarray, coords: np.ndarray, key: str,
                          method: str = "kmeans", size: int | None = None, **options
                          ) -> tuple[np.ndarray, bool]:
    """(cluster ids, came from disk): sampled_clusters kept on disk beside the map cached by
    cached_project_keyed under the same key and options (seed, sample, metric)."""
    wanted = {name: options[name] for name in ("metric", "seed", "sample") if name in options}
    path = keyed_projection_path(key, {**options, "clusters": method, "size": size},
                                 tuple(vectors.shape))
    ids, _, cached = _array_on_disk(
        path, (len(vectors),),
        lambda: (sampled_clusters(vectors, coords, method, size, **wanted), None), np.int64)
    return ids.astype(int), cached


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
