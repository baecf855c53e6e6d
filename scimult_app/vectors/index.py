"""A faiss HNSW index beside a vector set, for approximate top-k over large sets.

Built once per set (and score function) and saved as `index-<score>.faiss` with a small
`index-<score>.json` that records the set's revision, so an index of an older state of the
set is never used. Cosine indexes hold normalised vectors and search by inner product.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scimult_app.analysis.ranking import top_k_chunked
from scimult_app.errors import ScimultError
from scimult_app.paths import atomic_write_bytes
from scimult_app.vectors.store import VectorSet

INDEX_THRESHOLD = 50_000  # below this many vectors exact search is fast enough to prefer
HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 256


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ScimultError("faiss is not installed: `pip install faiss-cpu==1.15.1` (or install "
                           "requirements.txt), or search exactly.") from None
    return faiss


def index_paths(vector_set: VectorSet, score_function: str) -> tuple[Path, Path]:
    stem = vector_set.folder / f"index-{score_function}"
    return stem.with_suffix(".faiss"), stem.with_suffix(".json")


def _prepared(block: np.ndarray, score_function: str) -> np.ndarray:
    block = np.ascontiguousarray(block, dtype=np.float32)
    if score_function == "cosine":
        block = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    elif score_function != "dot":
        raise ValueError(f"unknown score function {score_function!r}")
    return block


@dataclass
class IndexInfo:
    path: Path
    count: int
    seconds: float
    m: int
    ef_construction: int


def build_index(vector_set: VectorSet, score_function: str = "dot", m: int = HNSW_M,
                ef_construction: int = EF_CONSTRUCTION, chunk: int = 20_000,
                progress=None) -> IndexInfo:
    """Build the HNSW index of the whole set and save it beside the set."""
    faiss = _faiss()
    started = time.time()
    vectors = vector_set.vectors()
    if not len(vectors):
        raise ScimultError(f"{vector_set.folder}: the vector set is empty; embed a corpus first.")
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    for start in range(0, len(vectors), chunk):
        index.add(_prepared(vectors[start:start + chunk], score_function))
        if progress:
            progress(min(start + chunk, len(vectors)), len(vectors))
    path, meta = index_paths(vector_set, score_function)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        faiss.write_index(index, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    atomic_write_bytes(meta, json.dumps({"revision": vector_set.revision, "count": len(vectors),
                                         "score_function": score_function, "kind": "hnsw",
                                         "m": m, "ef_construction": ef_construction}).encode())
    return IndexInfo(path, len(vectors), time.time() - started, m, ef_construction)


def load_index(vector_set: VectorSet, score_function: str = "dot", ef_search: int = EF_SEARCH):
    """The saved index when it matches the set's current state, else None."""
    path, meta = index_paths(vector_set, score_function)
    if not (path.is_file() and meta.is_file()):
        return None
    try:
        facts = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if facts.get("revision") != vector_set.revision or facts.get("count") != len(vector_set):
        return None
    index = _faiss().read_index(str(path))
    index.hnsw.efSearch = ef_search
    return index


def search_index(index, queries: np.ndarray, k: int, score_function: str = "dot"
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k: indices and scores, best first (like `top_k_chunked`)."""
    queries = _prepared(np.asarray(queries).reshape(-1, index.d), score_function)
    k = min(k, index.ntotal)
    values, indices = index.search(queries, k)
    return indices.astype(np.int64), values


def recall_at_k(vector_set: VectorSet, index, score_function: str = "dot", k: int = 10,
                queries: np.ndarray | None = None, sample: int = 200, seed: int = 0) -> float:
    """Mean |approximate top-k ∩ exact top-k| / k over `queries` (default: `sample` rows of
    the set itself, each query's own row excluded from neither list)."""
    vectors = vector_set.vectors()
    if queries is None:
        rows = np.random.default_rng(seed).choice(len(vectors), min(sample, len(vectors)),
                                                  replace=False)
        queries = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
    exact, _ = top_k_chunked(queries, vectors, k, score_function)
    approximate, _ = search_index(index, queries, k, score_function)
    found = [len(set(a) & set(e)) / max(len(e), 1) for a, e in zip(approximate, exact)]
    return float(np.mean(found)) if found else 0.0
