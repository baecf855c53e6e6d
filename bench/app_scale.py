"""The app's side of scale: map cold/warm, corpus switch and peak memory for big corpora.

    nice python bench/app_scale.py [--papers 100000] [--dim 768] [--fresh-numba]

Vectors are random unit vectors around 50 random centres (no model runs here: embedding
throughput is bench/embed_throughput.py's job), stored as a vector set exactly as the app's
embedding job leaves it. Papers are generated with abstract-like lengths (~180 words).
What is timed is what the Map page and a corpus switch do, in this process:
  map cold   UMAP fitted on a 15k sample (exact neighbours, numba's compile on first use
             included), the rest placed by their nearest sampled papers, saved to disk;
             split into the fit and the placement
  map warm   the same map read back (what every later visit costs)
  open       what a restarted server does for a corpus it has shown before: read the corpus's
             column copy (<stem>.parquet), find its vector set's completeness check on disk,
             memory-map the vectors. The first check of a set (hashing every paper's text) is
             timed while preparing, as the app does it once when the embedding job ends; the
             open of a corpus with no column copy (one saved before copies existed: the JSONL
             parsed, the copy written) is timed last
  quality    neighbour overlap@10 of the map on 5,000 random papers (analysis.placement)
  clusters   KMeans (default k) and HDBSCAN of the big map, cold and read back
  switch     open another stored corpus of the same size the same way (first time, then again
             from memory)
  query      the first query on the corpus just switched to: exact top-10 over its memory-mapped
             vectors (as the Search page ranks; embedding the query text is not included)
  peak RSS   the process's peak resident memory (ru_maxrss) after all of the above
--fresh-numba compiles everything numba caches on disk too (an empty NUMBA_CACHE_DIR): the very
first map after installing the packages.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("protein graph neural retrieval citation patient cohort gene expression transformer "
         "contrastive embedding sparse dense clinical trial imaging segmentation sepsis shock "
         "therapy outcome randomised mortality cardiac tumour cell signalling pathway model "
         "dataset benchmark accuracy learning network structure binding receptor").split()


def synthetic_papers(n: int, seed: int, prefix: str):
    from scimult_app.corpus.documents import Document
    rng = np.random.default_rng(seed)
    for start in range(0, n, 5000):
        batch = []
        for i in range(start, min(n, start + 5000)):
            words = rng.choice(WORDS, int(rng.integers(120, 260)))
            batch.append(Document(id=f"{prefix}{i}", title=" ".join(words[:9]).capitalize(),
                                  abstract=" ".join(words[9:]), year=int(rng.integers(1990, 2026)),
                                  labels=[str(rng.choice(WORDS))]))
        yield batch


def clustered_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class FakeLoaded:
    """What the vector-set path asks of a model: fingerprint and cut length."""

    class config:  # noqa: N801 - mirrors LoadedModel.config
        max_positions = 512

    def __init__(self, fingerprint: str):
        self.fingerprint = fingerprint
        self.max_length = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--fresh-numba", action="store_true",
                        help="compile with an empty numba cache (a first run after install)")
    args = parser.parse_args()
    os.environ.setdefault("SCIMULT_APP_CACHE", tempfile.mkdtemp(prefix="scimult-bench-"))
    if args.fresh_numba:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="scimult-bench-numba-")
    from scimult_app.analysis.placement import neighbour_overlap
    from scimult_app.analysis.projection import (
        cached_clusters_keyed,
        cached_project_keyed,
        project_sampled,
    )
    from scimult_app.analysis.ranking import top_k_chunked
    from scimult_app.corpus.columns import copy_path
    from scimult_app.corpus.store import CorpusStore
    from scimult_app.services import embedding_job
    from scimult_app.vectors.store import content_hash

    n = args.papers
    print(f"{n:,} papers, {args.dim}-d random unit vectors around 50 centres "
          f"(cache {os.environ['SCIMULT_APP_CACHE']})", flush=True)
    store = CorpusStore()
    loaded = FakeLoaded("f" * 64)
    names = ["Bench A", "Bench B"]
    for seed, name in enumerate(names):
        started = time.time()
        store.save_stream(name, synthetic_papers(n, seed, f"{name[-1]}"), source="bench",
                          overwrite=True)
        docs = store.load(name)
        vector_set = embedding_job.open_set(store, name, loaded, "search", "candidate")
        if len(vector_set) != n or len(store.load(name)) != n:
            vectors = clustered_unit_vectors(n, args.dim, seed)
            for start in range(0, n, 20_000):
                part = docs[start:start + 20_000]
                vector_set.append([d.id for d in part],
                                  [content_hash(d.model_input(), 512) for d in part],
                                  vectors[start:start + 20_000])
            vector_set.compact()
            del vectors
        size = (store.root / f"{store.key(name)}.jsonl").stat().st_size
        print(f"prepared “{name}”: {size / 1e6:.0f} MB of JSONL, vector set written, "
              f"{time.time() - started:.1f} s", flush=True)
        started = time.time()
        status = embedding_job.corpus_vectors_status(store, name, docs, loaded, "search",
                                                     auto_start=False)
        assert status.ready, status.waiting_message()
        print(f"first check of its vector set (hashes every text, once): "
              f"{time.time() - started:.2f} s", flush=True)
        del docs, status
    store = CorpusStore()  # a fresh server: nothing parsed or checked in memory yet
    embedding_job.forget()

    def open_corpus(name: str):
        docs = store.load(name)
        status = embedding_job.corpus_vectors_status(store, name, docs, loaded, "search",
                                                     auto_start=False)
        assert status.ready, status.waiting_message()
        return docs, status

    started = time.time()
    docs, status = open_corpus(names[0])
    first_open = time.time() - started
    started, cpu = time.time(), time.process_time()
    key = f"{status.folder}:{status.revision}:{len(docs)}"
    fitted_at = []

    def timed(vectors, **options):  # project_sampled, noting when the fit ends
        return project_sampled(vectors, progress=lambda done, _: fitted_at.append(time.time()),
                               **options)

    coords, note, cached = cached_project_keyed(status.vectors, key, timed, metric="cosine")
    cold, cold_cpu = time.time() - started, time.process_time() - cpu
    load = os.getloadavg()[0]
    fit = (fitted_at[0] if fitted_at else time.time()) - started
    assert not cached
    started = time.time()
    coords, note, cached = cached_project_keyed(status.vectors, key, metric="cosine")
    warm = time.time() - started
    assert cached
    rows = np.random.default_rng(7).choice(n, min(n, 5000), replace=False)
    overlap = neighbour_overlap(np.asarray(status.vectors[rows]), coords[rows], 10)
    clusters = {}
    for method in ("kmeans", "hdbscan"):
        timed = []
        for _ in range(2):
            started = time.time()
            ids, cached = cached_clusters_keyed(status.vectors, coords, key, method,
                                                metric="cosine")
            timed.append(time.time() - started)
        clusters[method] = (*timed, len(set(ids.tolist()) - {-1}))
    started = time.time()
    _, switched = open_corpus(names[1])
    switch_cold = time.time() - started
    query = clustered_unit_vectors(1, args.dim, 99)
    started = time.time()
    top_k_chunked(query, switched.vectors, 10, "dot")
    first_query = time.time() - started
    started = time.time()
    open_corpus(names[0])
    switch_back = time.time() - started
    started = time.time()
    open_corpus(names[1])
    switch_warm = time.time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB on Linux
    copy_path(store.root / f"{store.key(names[0])}.jsonl").unlink()
    store = CorpusStore()
    embedding_job.forget()
    started = time.time()
    open_corpus(names[0])
    no_copy = time.time() - started
    print(note)
    print(f"open first corpus (column copy, checked set, map vectors): {first_open:.2f} s")
    print(f"map of {n:,} cold (sample fit + placement):               {cold:.1f} s wall, "
          f"{cold_cpu:.1f} s CPU (all threads)")
    print(f"  of which the fit (read, PCA, neighbours, UMAP, compile): {fit:.1f} s; placing "
          f"the rest {max(0.0, cold - fit):.1f} s"
          + ("; numba cache: empty" if args.fresh_numba else ""))
    print(f"load average when it ended (1 min): {load:.1f} on {os.cpu_count()} cores")
    print(f"map of {n:,} cached:                                     {warm:.3f} s")
    print(f"map neighbour overlap@10 on {len(rows):,} random papers:          {overlap:.3f}")
    for method, (cold_ids, warm_ids, count) in clusters.items():
        print(f"{method} clusters of the map ({count}): {cold_ids:.1f} s cold, "
              f"{warm_ids:.3f} s cached")
    print(f"corpus switch to a {n:,}-paper corpus, first time:        {switch_cold:.2f} s")
    print(f"first query on it (exact top-10, mapped vectors):        {first_query:.2f} s")
    print(f"corpus switch back (both parsed and checked):            {switch_back:.3f} s")
    print(f"corpus switch again:                                     {switch_warm:.3f} s")
    print(f"peak resident memory of this process:                    {peak:.0f} MB")
    print(f"open with no column copy (parse JSONL, write the copy):  {no_copy:.2f} s")


if __name__ == "__main__":
    main()
