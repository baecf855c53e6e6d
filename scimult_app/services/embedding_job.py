"""A corpus embedded into its vector set as a background job: progress, cancel, resume.

Pages ask `corpus_vectors_status(...)` for a corpus's vectors under one model, expert and side.
When the vector set on disk holds every paper (same id, same text) the answer carries the
vectors (memory-mapped when the set's order is the corpus's), and the finding is kept on disk
(`set_check`) until the corpus or the set changes; otherwise the answer carries how many
papers are missing and the job filling the set, started on first need. The job writes the
vectors a chunk at a time (`vectors.embed_into`), so cancelling, a crash or a server restart
loses at most one chunk: the next run skips what is stored. A marker file in the set's folder
names the corpus and model while a job is unfinished, so `resume_pending` restarts it after a
restart. Embedding jobs run one at a time (a 2-core machine gains nothing from two).
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import CorpusStore
from scimult_app.engine.embedder import Embedder
from scimult_app.paths import atomic_write_bytes, cache_dir
from scimult_app.services import set_check
from scimult_app.services.jobs import JOBS, Job
from scimult_app.vectors.embed import embed_into
from scimult_app.vectors.store import (
    MANIFEST,
    VectorSet,
    content_hash,
    open_vector_set,
    vector_set_folder,
)

PREFIX = "embed:"
MARKER = "pending.json"
CHUNK = 256  # papers per written segment: the most a stop can lose
INLINE_MAX = int(os.environ.get("SCIMULT_APP_INLINE_MAX", "500"))
"""Corpora up to this many papers are embedded inside the page (seconds); larger ones by a job."""

_RUN_ONE = threading.Lock()  # one embedding job at a time
_MISSING: dict[tuple, int] = {}  # (set folder, revision, corpus signature, side facts) -> missing
_READY: dict[tuple, np.ndarray] = {}  # the same key -> vectors in corpus order (complete sets)
_MEMO_LOCK = threading.Lock()
READY_KEEP = 8


def vectors_root() -> Path:
    return cache_dir() / "vectors"


# ---------------------------------------------------------------- progress


@dataclass
class EmbedProgress:
    """Rate and time left measured over the papers embedded in this run (not skipped ones)."""
    corpus: str
    expert: str
    side: str
    total: int = 0
    done: int = 0
    embedded: int = 0
    waiting: bool = True
    started: float = field(default_factory=time.time)
    _base: tuple[float, int] | None = None

    def update(self, done: int, total: int, message: str) -> None:
        match = re.match(r"(\d+) embedded", message or "")
        embedded = int(match.group(1)) if match else self.embedded
        now = time.time()
        self.waiting = False
        if embedded > 0 and self._base is None:
            self._base = (now, embedded)
        self.done, self.total, self.embedded = done, total or self.total, embedded

    @property
    def rate(self) -> float | None:
        """Papers embedded per second in this run; None until there are two measurements."""
        if self._base is None:
            return None
        seconds = time.time() - self._base[0]
        count = self.embedded - self._base[1]
        return count / seconds if seconds > 1 and count > 0 else None

    def seconds_left(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate and self.total else None

    def line(self) -> str:
        """`Embedding 4,200 / 10,000 papers of “X” (search expert), 12.5 papers/s, 6 min left`."""
        what = f"of “{self.corpus}” ({self.expert} expert, {self.side} side)"
        if self.waiting:
            return f"Waiting to embed {what}: another corpus is being embedded first"
        text = f"Embedding {self.done:,} / {self.total:,} papers {what}"
        rate = self.rate
        if rate:
            text += f", {rate:.1f} papers/s"
        left = self.seconds_left()
        if left is not None:
            text += f", {format_duration(left)} left"
        return text


def format_duration(seconds: float) -> str:
    """`45 s`, `6 min`, `2 h 05 min`."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


_PROGRESS: dict[str, EmbedProgress] = {}


def progress_of(job: Job) -> EmbedProgress | None:
    return _PROGRESS.get(job.key)


def job_line(job: Job) -> str:
    """One line for a progress bar: the job's progress, or how it ended."""
    progress = progress_of(job)
    if job.running:
        return progress.line() if progress else job.status_line()
    if job.error == "cancelled":
        done = f" at {progress.done:,} / {progress.total:,} papers" if progress else ""
        return f"{job.title}: cancelled{done}; what was embedded is kept."
    if job.error:
        return f"{job.title} failed: {job.error}"
    return f"{job.title}: done."


def embedding_jobs(running_only: bool = True) -> list[Job]:
    jobs = JOBS.running() if running_only else [
        job for key in list(JOBS._jobs) if (job := JOBS.get(key)) is not None]
    return [job for job in jobs if job.key.startswith(PREFIX)]


# ---------------------------------------------------------------- the set and what it lacks


def forget() -> None:
    """Drop the checks and vectors this process remembers, as a restarted server would."""
    with _MEMO_LOCK:
        _MISSING.clear()
        _READY.clear()


def _cut_at(loaded) -> int:
    return min(loaded.max_length, loaded.config.max_positions)


def open_set(store: CorpusStore, name: str, loaded, expert: str, side: str,
             root: Path | None = None) -> VectorSet:
    return open_vector_set(store.key(name), loaded.fingerprint, expert, side,
                           root or vectors_root())


def missing_papers(vector_set: VectorSet, docs: list[Document], cut_at: int) -> int:
    """How many papers have no vector in the set (new ids, or texts changed since)."""
    return sum(not vector_set.has(doc.id, content_hash(doc.model_input(), cut_at))
               for doc in docs)


def ordered_vectors(vector_set: VectorSet, docs: list[Document]) -> np.ndarray:
    """The set's vectors in the corpus's order: the memory map itself when orders agree."""
    ids = [doc.id for doc in docs]
    if vector_set.ids() == ids:
        return vector_set.vectors()
    return vector_set.vectors_for(ids)


@dataclass
class CorpusVectors:
    """A corpus's vectors under one model, expert and side, or what is missing."""
    corpus: str
    expert: str
    side: str
    total: int
    missing: int
    vectors: np.ndarray | None
    job: Job | None
    folder: Path
    revision: int

    @property
    def ready(self) -> bool:
        return self.vectors is not None

    def waiting_message(self) -> str:
        """What a page says while it waits, e.g. `Embedding 4,200 / 10,000 papers, 6 min left;
        results appear when done.`"""
        job = self.job
        progress = progress_of(job) if job else None
        if job is not None and job.running and progress is not None and not progress.waiting:
            left = progress.seconds_left()
            eta = f", {format_duration(left)} left" if left is not None else ""
            return (f"Embedding {progress.done:,} / {progress.total:,} papers of “{self.corpus}” "
                    f"({self.expert} expert){eta}; results appear here when done. Other pages "
                    "stay usable meanwhile.")
        if job is not None and job.running:
            return (f"“{self.corpus}” waits to be embedded ({self.missing:,} of {self.total:,} "
                    "papers missing) after the embedding in progress; results appear here when "
                    "done.")
        stored = self.total - self.missing
        if job is not None and job.error == "cancelled":
            return (f"Embedding “{self.corpus}” was cancelled: {stored:,} of {self.total:,} papers "
                    f"have vectors ({self.expert} expert). Resume it to see results here.")
        if job is not None and job.error:
            return f"Embedding “{self.corpus}” failed: {job.error}"
        return (f"{self.missing:,} of {self.total:,} papers of “{self.corpus}” have no vectors yet "
                f"({self.expert} expert, {self.side} side).")


def corpus_vectors_status(store: CorpusStore, name: str, docs: list[Document], loaded,
                          expert: str, side: str = "candidate", auto_start: bool = True,
                          model_source: tuple[str, str | None] | None = None,
                          root: Path | None = None) -> CorpusVectors:
    """The corpus's vectors when the set is complete; else the missing count and the job
    (started here when `auto_start` and no job for this set was cancelled or failed)."""
    vector_set = open_set(store, name, loaded, expert, side, root)
    key = (str(vector_set.folder), vector_set.revision, store.signature(name), len(docs))
    with _MEMO_LOCK:
        ready = _READY.get(key)
        missing = _MISSING.get(key)
    job = JOBS.get(PREFIX + str(vector_set.folder))
    if ready is not None:
        return CorpusVectors(name, expert, side, len(docs), 0, ready, job, vector_set.folder,
                             vector_set.revision)
    if missing is None:
        checked = set_check.facts(vector_set, key[2], len(docs), _cut_at(loaded))
        if set_check.recorded(vector_set, checked):  # found complete before, nothing changed
            missing = 0
        else:
            missing = missing_papers(vector_set, docs, _cut_at(loaded))
            if missing == 0:
                set_check.record(vector_set, checked)
        with _MEMO_LOCK:
            _MISSING[key] = missing
    vectors = None
    if missing == 0:
        vectors = ordered_vectors(vector_set, docs)
        with _MEMO_LOCK:
            for old in [k for k in _READY if k[0] == key[0]]:
                del _READY[old]  # one ordering per set: an older revision's arrays go
            _READY[key] = vectors
            while len(_READY) > READY_KEEP:
                _READY.pop(next(iter(_READY)))
    elif auto_start and (job is None or (not job.running and job.error is None)):
        job = start_embedding(store, name, loaded, expert, side, model_source, root)
    return CorpusVectors(name, expert, side, len(docs), missing, vectors, job, vector_set.folder,
                         vector_set.revision)


# ---------------------------------------------------------------- the job


def _marker(folder: Path) -> Path:
    return folder / MARKER


def start_embedding(store: CorpusStore, name: str, loaded, expert: str, side: str = "candidate",
                    model_source: tuple[str, str | None] | None = None,
                    root: Path | None = None, restart: bool = True) -> Job:
    """Start (or return the running) job that fills the corpus's vector set.

    `model_source` (source, tokenizer) is written in the set's marker so that a restarted
    server can resume the job with the same model (`resume_pending`).
    """
    vector_set = open_set(store, name, loaded, expert, side, root)
    key = PREFIX + str(vector_set.folder)
    running = JOBS.get(key)
    if running is not None and running.running:
        return running
    corpus_key = store.key(name)
    if model_source is not None:
        atomic_write_bytes(_marker(vector_set.folder), json.dumps({
            "corpus_key": corpus_key, "corpus": name, "model": model_source[0],
            "tokenizer": model_source[1], "expert": expert, "side": side}).encode("utf-8"))
    progress = EmbedProgress(name, expert, side)

    def work(job: Job) -> str:
        with _RUN_ONE:
            job.check_cancelled()
            progress.started = time.time()
            docs = store.load(name)
            progress.update(0, len(docs), "")
            embedder = Embedder(loaded, use_cache=False)  # the set is the cache

            def report(done: int, total: int, message: str) -> None:
                progress.update(done, total, message)
                job.report(done, total, message)

            target = VectorSet.open(vector_set.folder)
            result = embed_into(target, embedder, docs, expert, side, progress=report,
                                should_stop=lambda: job.cancelled, chunk_size=CHUNK)
            if result.stopped:
                job.check_cancelled()
            _marker(vector_set.folder).unlink(missing_ok=True)
            return result.summary()

    job = JOBS.start(key, work, f"Embedding “{name}”", restart=restart)
    _PROGRESS[key] = progress
    return job


def cancel(job: Job) -> None:
    """Stop after the chunk in progress; the marker goes, so a restart does not resume it."""
    job.cancel()
    folder = Path(job.key[len(PREFIX):])
    _marker(folder).unlink(missing_ok=True)


def pending_markers(root: Path | None = None) -> list[tuple[Path, dict]]:
    """(set folder, marker) of every unfinished embedding (`pending.json` in a set's folder)."""
    found = []
    for path in sorted((root or vectors_root()).glob(f"*/*/*/{MARKER}")):
        try:
            found.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found


def resume_pending(store: CorpusStore, loaded, model_source: tuple[str, str | None],
                   root: Path | None = None) -> list[Job]:
    """Restart the unfinished jobs made with this model (after a server restart)."""
    started = []
    names = {store.key(name): name for name in store.names()}
    for folder, marker in pending_markers(root):
        if (marker.get("model"), marker.get("tokenizer")) != tuple(model_source):
            continue
        name = names.get(marker.get("corpus_key", ""))
        if name is None:  # the corpus was deleted
            _marker(folder).unlink(missing_ok=True)
            continue
        if JOBS.get(PREFIX + str(folder)) is not None:
            continue  # running, or ended in this process (cancelled, failed): not again
        try:
            started.append(start_embedding(store, name, loaded, marker["expert"], marker["side"],
                                           model_source, root, restart=False))
        except Exception:  # another model's set under the same key: leave it
            continue
    return started


def vector_sets_summary(store: CorpusStore, name: str, loaded, experts: list[str],
                        root: Path | None = None) -> list[dict]:
    """One row per expert and side: papers with vectors stored, of the corpus's papers, and
    the state of its job (for the Corpora page)."""
    papers = int(store.info(name).get("count") or 0)
    rows = []
    for expert in experts:
        for side in ("candidate", "query"):
            folder = vector_set_folder(store.key(name), loaded.fingerprint, expert, side,
                                       root or vectors_root())
            stored = len(VectorSet.open(folder)) if (folder / MANIFEST).is_file() else 0
            job = JOBS.get(PREFIX + str(folder))
            state = job_line(job) if job is not None else (
                "complete" if stored >= papers else "not started" if not stored else "partial")
            rows.append({"expert": expert, "side": side, "stored": stored, "papers": papers,
                         "state": state})
    return rows


def map_key(store: CorpusStore, names: list[str], fingerprint: str, expert: str) -> str:
    """What decides a big map's coordinates: the model, the expert and each corpus's state
    (the key under which `analysis.projection.cached_project_keyed` keeps them)."""
    return "|".join([fingerprint, expert]
                    + [f"{store.key(name)}:{store.signature(name)}" for name in names])
