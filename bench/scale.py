"""Scale benchmark: corpora of 10k and 100k papers, vectors on disk, exact and faiss search.

Prints, for this machine:
  - corpus generation and streaming read (papers/s, peak memory of the reading process);
  - embedding throughput through the CLI (`embed --output FOLDER`, papers/s) on a sample of
    the 10k corpus with a real model (default minilm), and the incremental re-run;
  - with --ray: the same sample through `embed --engine ray` (2 local actors) and the cost
    per million papers on this machine's CPUs, extrapolated from the measured rate;
  - vector sets of 10k and 100k random unit vectors of the model's dimension (384 for
    minilm): embedding 100k real texts on two CPU cores takes hours, so search and open
    times are measured on random vectors of the right shape, which cost the same to search;
  - time to first results: a fresh process that opens the 100k set and answers one exact
    top-10 query (target <= 2 s; the query's own embedding is not included);
  - search latency p50/p95, one query at a time: exact chunked top-10 (target <= 100 ms
    over 100k) and the faiss HNSW index (build time, recall@10 against exact at several
    efSearch values; random vectors are the hardest case for HNSW, real embeddings cluster);
  - corpus switch time (open another set and answer a query) and peak memory.

    python bench/scale.py [--workdir /tmp/scimult-scale] [--sizes 10000 100000]
                          [--embed-sample 300] [--model minilm] [--ray] [--queries 100]

A benchmark, not a test: numbers are printed, nothing about time is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from make_corpus import write_corpus  # noqa: E402

from scimult_app.analysis.ranking import top_k_chunked  # noqa: E402
from scimult_app.vectors.index import build_index, load_index, recall_at_k, search_index  # noqa: E402
from scimult_app.vectors.store import VectorSet  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(code: str) -> dict:
    """Run Python code in a fresh process; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms"


def corpora(workdir: Path, sizes: list[int]) -> dict[int, Path]:
    print("== corpora (synthetic abstracts, bench/make_corpus.py)")
    paths = {}
    for size in sizes:
        path = workdir / f"papers-{size}.jsonl.gz"
        if not path.exists():
            began = time.time()
            write_corpus(path, size)
            print(f"  generated {size} papers in {time.time() - began:.1f} s")
        paths[size] = path
        facts = child(f"""
import json, resource, time
began = time.time()
from scimult_app.corpus.stream import iter_document_batches
count = chars = 0
for batch in iter_document_batches({str(path)!r}, 4096):
    count += len(batch); chars += sum(len(d.model_input()) for d in batch)
print(json.dumps({{"count": count, "chars": chars, "seconds": time.time() - began,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))""")
        print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB gzip, "
              f"{facts['chars'] / 1e6:.0f} M characters; streamed in {facts['seconds']:.1f} s "
              f"({facts['count'] / facts['seconds']:.0f} papers/s), reader peak memory "
              f"{facts['peak_mb']:.0f} MB")
    return paths


def sample_file(corpus: Path, workdir: Path, count: int) -> Path:
    from scimult_app.corpus.stream import iter_documents
    path = workdir / f"sample-{count}.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for number, document in enumerate(iter_documents(corpus)):
            if number >= count:
                break
            out.write(json.dumps({"id": document.id, "title": document.title,
                                  "abstract": document.abstract}) + "\n")
    return path


def cli_embed(arguments: list[str]) -> tuple[float, str]:
    began = time.time()
    done = subprocess.run([sys.executable, "-m", "scimult_app", "embed", *arguments], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return time.time() - began, done.stderr


def embedding(workdir: Path, corpus: Path, count: int, model: str, use_ray: bool) -> int:
    print(f"== embedding through the CLI ({model}, search expert, candidate side)")
    sample = sample_file(corpus, workdir, count)
    folder = workdir / f"vectors-{model}-{count}"
    for old in (folder, workdir / f"ray-{model}-{count}"):
        subprocess.run(["rm", "-rf", str(old)], check=True)
    base = ["--checkpoint", model, "--expert", "search", "--side", "candidate", "--input",
            str(sample)]
    wall, log = cli_embed([*base, "--output", str(folder)])
    rate = float(re.search(r"\(([\d.]+) papers/s\)", log).group(1))
    print(f"  local: {count} papers in {wall:.1f} s wall (with start-up and model load); "
          f"encoder {rate:.1f} papers/s")
    wall_again, log = cli_embed([*base, "--output", str(folder)])
    again = re.search(r"(\d+) embedded", log).group(1)
    print(f"  re-run on the same corpus: {wall_again:.1f} s wall, {again} embedded (incremental)")
    dim = VectorSet.open(folder).dim
    if use_ray:
        wall, log = cli_embed([*base, "--output", str(workdir / f"ray-{model}-{count}"),
                               "--engine", "ray", "--num-workers", "2"])
        found = re.search(r"Ray wrote (\d+) vectors in ([\d.]+) s", log)
        ray_rate = int(found.group(1)) / float(found.group(2))
        cores = len(os.sched_getaffinity(0))
        hours = 1e6 / ray_rate / 3600
        print(f"  ray (local, 2 actors): {count} papers in {wall:.1f} s wall; "
              f"{ray_rate:.1f} papers/s inside Ray (actor start-up included)")
        print(f"  EXTRAPOLATED, not measured: 1M papers at {ray_rate:.1f} papers/s = "
              f"{hours:.1f} h on this {cores}-core machine = {hours * cores:.0f} CPU-core-hours "
              f"with {model}; at the local encoder rate {1e6 / rate / 3600:.1f} h")
    return dim


def random_set(workdir: Path, size: int, dim: int, kind: str) -> VectorSet:
    """`size` unit vectors: `uniform` on the sphere (the hardest case for HNSW: in 384
    dimensions every pair is nearly orthogonal), or `clustered` around size/50 topic centres
    (within-topic cosine about 0.5, as between related abstracts)."""
    folder = workdir / f"{kind}-{size}-{dim}"
    if (folder / "manifest.json").exists():
        return VectorSet.open(folder)
    vector_set = VectorSet.create(folder, f"{kind}-unit-vectors", "search", "candidate",
                                  score_function="cosine")
    vector_set.append([f"p{i:07d}" for i in range(size)], [""] * size,
                      draw_vectors(np.random.default_rng(size), size, dim, kind))
    return vector_set


def draw_vectors(rng: np.random.Generator, count: int, dim: int, kind: str,
                 centres: int | None = None) -> np.ndarray:
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    if kind == "clustered":
        topics = np.random.default_rng(0).standard_normal((centres or max(1, count // 50), dim),
                                                          dtype=np.float32)
        topics /= np.linalg.norm(topics, axis=1, keepdims=True)
        vectors = topics[rng.integers(len(topics), size=count)] + \
            vectors / np.sqrt(dim) * 1.0
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def first_results(vector_set: VectorSet) -> None:
    facts = child(f"""
import json, time
began = time.time()
import numpy as np
from scimult_app.analysis.ranking import top_k_chunked
from scimult_app.vectors.store import VectorSet
imported = time.time()
vector_set = VectorSet.open({str(vector_set.folder)!r})
vectors, ids = vector_set.vectors(), vector_set.ids()
query = np.random.default_rng(1).standard_normal((1, vectors.shape[1])).astype(np.float32)
indices, _ = top_k_chunked(query, vectors, 10, "cosine")
hits = [ids[i] for i in indices[0]]
print(json.dumps({{"imports": imported - began, "total": time.time() - began}}))""")
    print(f"  time to first results, fresh process, {len(vector_set)} vectors on disk: "
          f"{facts['total']:.2f} s (imports {facts['imports']:.2f} s; target <= 2 s)")


def searching(vector_set: VectorSet, queries: int, use_faiss: bool, kind: str) -> None:
    vectors = vector_set.vectors()
    asked = draw_vectors(np.random.default_rng(7), queries, vectors.shape[1], kind,
                         centres=max(1, len(vectors) // 50))
    began = time.perf_counter()
    norms = vector_set.norms()  # once per opened set; pages the file in
    print(f"  row norms for cosine, once per open: {(time.perf_counter() - began) * 1000:.0f} ms")
    timings = []
    for query in asked:
        began = time.perf_counter()
        top_k_chunked(query, vectors, 10, "cosine", candidate_norms=norms)
        timings.append(time.perf_counter() - began)
    print(f"  exact top-10 over {len(vectors)}: {percentiles(timings)} (target <= 100 ms)")
    if not use_faiss:
        return
    began = time.time()
    info = build_index(vector_set, "cosine")
    print(f"  faiss HNSW (M={info.m}, efConstruction={info.ef_construction}) built in "
          f"{time.time() - began:.1f} s, saved as {info.path.name}")
    for ef_search in (64, 128, 256):
        index = load_index(vector_set, "cosine", ef_search=ef_search)
        timings = []
        for query in asked:
            began = time.perf_counter()
            search_index(index, query, 10, "cosine")
            timings.append(time.perf_counter() - began)
        recall = recall_at_k(vector_set, index, "cosine", 10, queries=asked)
        print(f"  faiss efSearch={ef_search}: {percentiles(timings)}, recall@10 against exact "
              f"{recall:.3f} ({queries} {kind} queries, not in the set)")


def switching(sets: list[VectorSet], rounds: int = 6) -> None:
    timings = []
    query = np.random.default_rng(3).standard_normal((1, sets[0].dim)).astype(np.float32)
    for round_ in range(rounds):
        chosen = sets[round_ % len(sets)]
        began = time.perf_counter()
        opened = VectorSet.open(chosen.folder)
        top_k_chunked(query, opened.vectors(), 10, "cosine", candidate_norms=opened.norms())
        opened.ids()
        timings.append(time.perf_counter() - began)
    print(f"  corpus switch (open another set and answer a query), warm page cache: "
          f"{percentiles(timings)} over {rounds} switches between "
          f"{' and '.join(str(len(s)) for s in sets)} vectors")


def main() -> None:
    parser = argparse.ArgumentParser(description="Scale benchmark (numbers printed).")
    parser.add_argument("--workdir", default="/tmp/scimult-scale")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--embed-sample", type=int, default=300)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--ray", action="store_true", help="also measure embed --engine ray")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--vectors", choices=("clustered", "uniform"), default="clustered",
                        help="stand-in vectors: clustered like topics (default) or uniform")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {len(os.sched_getaffinity(0))} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    paths = corpora(workdir, args.sizes)
    dim = 384
    if args.embed_sample:
        dim = embedding(workdir, paths[min(paths)], args.embed_sample, args.model, args.ray)
    sets = []
    for size in args.sizes:
        print(f"== {size} {args.vectors} random unit vectors of {dim} dimensions on disk "
              "(stand-ins for embedded papers)")
        began = time.time()
        vector_set = random_set(workdir, size, dim, args.vectors)
        print(f"  vector set ready in {time.time() - began:.1f} s: {vector_set.folder}")
        first_results(vector_set)
        searching(vector_set, args.queries, not args.no_faiss, args.vectors)
        sets.append(vector_set)
    if len(sets) > 1:
        print("== switching")
        switching(sets)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"== peak memory: this process {peak_mb():.0f} MB, largest child process "
          f"{children:.0f} MB")


if __name__ == "__main__":
    main()
