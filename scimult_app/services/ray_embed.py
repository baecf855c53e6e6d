"""Embedding on Ray: sharded JSONL/Parquet corpora through an actor pool into a vector set.

Ray Data reads the shards (JSONL lines as text, Parquet by row groups), a stateless step turns
rows into the text the encoder sees (`document_from_record`, as the local path does), and
`map_batches` runs an actor pool with one model per actor (a GPU per actor when the cluster
has them). The result is the `--output` folder: Parquet files with `id` (string), `vector`
(list<float32>) and `hash`, plus the vector set's manifest.json, so the app, `rank` and
`index` open it as any other vector set. Every row needs an `id` (there are no line numbers
across distributed shards). The scimult_app package travels to the workers as a py_module.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scimult_app.corpus.documents import document_from_record, json_object
from scimult_app.corpus.stream import corpus_files
from scimult_app.errors import InputError, ScimultError
from scimult_app.vectors.store import FORMAT, MANIFEST, VERSION, VectorSet, content_hash

PACKAGE = Path(__file__).resolve().parents[1]  # the scimult_app folder, shipped to workers
READ_RESERVE = 2  # logical CPUs left for Ray Data's own tasks (list files, read, write)


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is an extra: ray[data])
    except ImportError:
        raise ScimultError("Ray is not installed: `pip install 'ray[data]==2.60.0'` (or install "
                           "requirements.txt), or use --engine local.") from None
    return ray


def local_options() -> dict:
    """A local Ray gets READ_RESERVE logical CPUs beyond the cores, for Ray Data's listing,
    reading and writing tasks (1 CPU each), so the actors can have all the cores."""
    return {"num_cpus": _cores() + READ_RESERVE}


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def start_ray(address: str | None = None) -> tuple[bool, str]:
    """Connect to a cluster (`auto`: the one RAY_ADDRESS or this machine runs, else a local
    one; `host:port` or `ray://...`: that one) or start Ray on this machine (None).
    Returns (whether this call started Ray, a line saying where it runs)."""
    ray = _import_ray()
    if ray.is_initialized():
        return False, "the Ray session already running in this process"
    options = {"include_dashboard": False, "log_to_driver": False,
               "runtime_env": {"py_modules": [str(PACKAGE)]}}
    if address == "auto":
        try:
            ray.init(address="auto", **options)
            return True, "the Ray cluster found at address auto"
        except ConnectionError:
            ray.init(**local_options(), **options)
            return True, "a local Ray instance (no running cluster found for address auto)"
    if address:
        try:
            ray.init(address=address, **options)
        except ConnectionError as error:
            raise ScimultError(f"cannot reach the Ray cluster at {address} ({error}). Check the "
                               "address (`ray status` on the head node prints it), or leave "
                               "--address out to run locally.") from None
        return True, f"the Ray cluster at {address}"
    ray.init(**local_options(), **options)
    return True, "a local Ray instance"


def to_texts(batch, max_length: int, jsonl: bool = False):
    """Rows (JSONL lines in the column `text`, or Parquet columns) -> id, text, hash."""
    import pyarrow as pa
    records = batch.to_pylist()
    ids, texts, hashes = [], [], []
    for record in records:
        if jsonl:  # a JSONL line read as text
            line = record["text"]
            if not line.strip():
                continue
            record = json_object(line, f"a JSONL line ({line[:80]!r})")
        document = document_from_record(record, "")
        if not document.id:
            raise InputError(f"a row has no 'id' ({str(record)[:80]}); the Ray engine needs an "
                             "id in every row. Add ids, or use --engine local.")
        text = document.model_input()
        if not text.strip():
            raise InputError(f"the row with id {document.id!r} has no text ('text', or 'title' "
                             "and/or 'abstract').")
        ids.append(document.id)
        texts.append(text)
        hashes.append(content_hash(text, max_length))
    return pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string()),
                     "hash": pa.array(hashes, pa.string())})


class EmbedActor:
    """One model per actor; encodes a batch of texts into a pyarrow table of vectors."""

    def __init__(self, checkpoint: str, tokenizer: str | None, expert: str, side: str,
                 max_length: int, device: str, threads: int, precision: str = "float32"):
        import torch

        from scimult_app.engine.embedder import Embedder
        from scimult_app.models import open_model
        torch.set_num_threads(max(1, threads))
        self.expert, self.side, self.max_length = expert, side, max_length
        loaded = open_model(checkpoint, tokenizer)
        self.embedder = Embedder(loaded, device=device, use_cache=False, precision=precision)

    def __call__(self, batch):
        import pyarrow as pa
        texts = batch.column("text").to_pylist()
        vectors = self.embedder.encode(texts, self.expert, self.side, max_length=self.max_length)
        flat = pa.array(np.ascontiguousarray(vectors, np.float32).reshape(-1))
        offsets = pa.array(np.arange(len(texts) + 1, dtype=np.int32) * vectors.shape[1])
        return pa.table({"id": batch.column("id"),
                         "vector": pa.ListArray.from_arrays(offsets, flat),
                         "hash": batch.column("hash")})


@dataclass
class RayPlan:
    num_workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    threads: int
    device: str


def plan_workers(num_workers: int, device: str = "auto", cpus_per_worker: float | None = None
                 ) -> RayPlan:
    """Resources per actor: a GPU each when the cluster has GPUs (device auto or cuda), else
    the cluster's CPUs shared out after READ_RESERVE for Ray Data's own tasks (actors that
    held every CPU would leave the readers waiting forever)."""
    ray = _import_ray()
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    total = resources.get("CPU", 1)
    if device == "cuda" and not gpus:
        raise ScimultError("--device cuda was asked for but the Ray cluster has no GPU; use "
                           "auto or cpu.")
    if gpus and device != "cpu":
        cpus = cpus_per_worker or 1
        return RayPlan(num_workers, cpus, 1, max(1, int(cpus)), "cuda")
    share = cpus_per_worker or (total - min(READ_RESERVE, total / 2)) / num_workers
    if share * num_workers > total - 0.5:
        raise ScimultError(f"{num_workers} workers of {share:g} CPUs leave no CPU of the "
                           f"cluster's {total:g} for reading; lower --num-workers or "
                           "--cpus-per-worker.")
    return RayPlan(num_workers, share, 0, max(1, math.floor(share + 0.5)), "cpu")


def _output_folder(output: str | Path) -> Path:
    folder = Path(output).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScimultError(f"{folder}: exists and is not an empty folder. Give a new --output "
                           "folder (the Ray engine writes a whole vector set at once).")
    if not folder.parent.exists():
        raise ScimultError(f"{folder}: the folder {folder.parent} does not exist.")
    return folder


def write_manifest(folder: Path, fingerprint: str, expert: str, side: str, corpus: str,
                   score_function: str = "dot") -> VectorSet:
    """The manifest over the Parquet files Ray wrote (count = distinct ids)."""
    import pyarrow.parquet as pq
    files = sorted(p for p in folder.glob("*.parquet"))
    segments, dim = [], None
    for path in files:
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows:
            segments.append({"file": path.name, "rows": rows})
            if dim is None:
                first = pq.ParquetFile(path).read_row_group(0, columns=["vector"])
                dim = len(first.column("vector")[0].as_py())
        else:
            path.unlink()
    manifest = {"format": FORMAT, "version": VERSION, "model_fingerprint": fingerprint,
                "expert": expert, "side": side, "corpus": corpus, "dim": dim, "count": 0,
                "revision": 1, "segments": segments, "engine": "ray",
                "score_function": score_function, "updated": time.time()}
    vector_set = VectorSet(folder, manifest)
    manifest["count"] = len(vector_set._positions())
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return VectorSet.open(folder)


def embed_with_ray(source: str | Path, output: str | Path, loaded, checkpoint: str,
                   tokenizer: str | None, expert: str, side: str, num_workers: int = 2,
                   batch_size: int = 64, max_length: int | None = None, device: str = "auto",
                   address: str | None = None, cpus_per_worker: float | None = None,
                   say=print, precision: str = "float32") -> VectorSet:
    """Embed every row of `source` (a file or a folder of shards) on Ray into `output`.

    `loaded` is the model opened in the driver (for its fingerprint and max length; the
    actors open `checkpoint` themselves, so the path must be readable on every node).
    """
    ray = _import_ray()
    files = corpus_files(source)
    folder = _output_folder(output)
    cut_at = min(max_length or loaded.max_length, loaded.config.max_positions)
    started_here, where = start_ray(address)
    try:
        plan = plan_workers(num_workers, device, cpus_per_worker)
        say(f"Ray: {where}; {plan.num_workers} worker(s), {plan.cpus_per_worker:g} CPU and "
            f"{plan.gpus_per_worker:g} GPU each, batches of {batch_size}")
        # a session we started ships the package (py_modules); one started by the caller gets
        # it on the path, which works when its workers share this machine's files
        environment = None if started_here else {"env_vars": {"PYTHONPATH": os.pathsep.join(
            filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))}}
        jsonl = [str(p) for p in files if not p.name.lower().endswith((".parquet", ".pq"))]
        parquet = [str(p) for p in files if p.name.lower().endswith((".parquet", ".pq"))]
        parts = []
        if jsonl:
            lines = ray.data.read_text(jsonl, drop_empty_lines=True)
            parts.append(lines.map_batches(to_texts, fn_kwargs={"max_length": cut_at,
                                                                "jsonl": True},
                                           batch_format="pyarrow", runtime_env=environment))
        if parquet:
            rows = ray.data.read_parquet(parquet)
            parts.append(rows.map_batches(to_texts, fn_kwargs={"max_length": cut_at},
                                          batch_format="pyarrow", runtime_env=environment))
        texts = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
        vectors = texts.map_batches(
            EmbedActor, batch_size=batch_size, batch_format="pyarrow",
            fn_constructor_kwargs={"checkpoint": checkpoint, "tokenizer": tokenizer,
                                   "expert": expert, "side": side, "max_length": cut_at,
                                   "device": plan.device, "threads": plan.threads,
                                   "precision": precision},
            compute=ray.data.ActorPoolStrategy(size=plan.num_workers),
            num_cpus=plan.cpus_per_worker,
            num_gpus=plan.gpus_per_worker, runtime_env=environment)
        began = time.time()
        vectors.write_parquet(str(folder))
        seconds = time.time() - began
    finally:
        if started_here:
            ray.shutdown()
    from scimult_app.engine.embedder import vectors_fingerprint
    vector_set = write_manifest(folder, vectors_fingerprint(loaded.fingerprint, precision),
                                expert, side, str(source), loaded.score_function)
    say(f"Ray wrote {len(vector_set)} vectors in {seconds:.1f} s "
        f"({len(vector_set) / max(seconds, 1e-9):.1f} papers/s including actor start-up)")
    return vector_set
