"""Fill a vector set from documents: only what is new or edited is embedded, in chunks.

Each chunk of `chunk_size` new documents is embedded and written as one segment before the
next starts, so stopping (a cancelled job, a crash, a server restart) loses at most one chunk
and the next call resumes where the last one stopped. Chunks are cut from the documents still
to do, in input order, so a resumed run embeds the same chunks and gives identical vectors.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scimult_app.corpus.documents import Document
from scimult_app.vectors.store import VectorSet, content_hash

# progress(done, total, message): done counts documents looked at (skipped or embedded);
# total is 0 when the input's length is unknown. It may raise to stop (e.g. jobs.Cancelled).
Progress = Callable[[int, int, str], None]


@dataclass
class EmbedReport:
    seen: int  # documents looked at
    embedded: int  # newly embedded (new ids or edited texts)
    skipped: int  # already in the set with the same text
    stopped: bool  # should_stop() asked to stop before the end
    seconds: float

    @property
    def rate(self) -> float:
        """Embedded documents per second."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        end = "stopped early (run again to resume)" if self.stopped else "done"
        return (f"{self.embedded} embedded, {self.skipped} already there, {end} in "
                f"{self.seconds:.1f} s ({self.rate:.1f} papers/s)")


def embed_into(vector_set: VectorSet, embedder, documents: Iterable[Document],
               expert: str | None = None, side: str | None = None,
               progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
               chunk_size: int = 512, max_length: int | None = None, total: int | None = None,
               compact: bool = True) -> EmbedReport:
    """Embed the documents `vector_set` lacks (new ids, or ids whose text changed).

    `embedder`: an `engine.embedder.Embedder` for the set's model (make it with
    `use_cache=False`: the set is the cache). `expert`/`side` default to the set's and must
    match it. `should_stop()` is asked between chunks; `progress` after each encoder batch.
    `total` is the number of documents when `documents` has no len(). At the end the set's
    segments are folded into one file (`compact`) unless it stopped early.
    """
    expert = expert or vector_set.expert
    side = side or vector_set.side
    loaded = embedder.loaded
    vector_set.check(embedder.fingerprint, expert, side)
    cut_at = min(max_length or loaded.max_length, loaded.config.max_positions)
    if total is None:
        total = len(documents) if hasattr(documents, "__len__") else 0
    started = time.time()
    seen = embedded = skipped = 0
    pending: list[tuple[str, str, str]] = []  # (id, hash, text)

    def message() -> str:
        return f"{embedded} embedded, {skipped} already there"

    def flush() -> None:
        nonlocal embedded
        before = seen - len(pending)

        def batch_progress(done: int, _total: int) -> None:
            if progress:
                progress(before + done, total, message())
        texts = [text for _, _, text in pending]
        result = embedder.embed(texts, expert, side, max_length=cut_at, progress=batch_progress)
        vector_set.append([doc_id for doc_id, _, _ in pending],
                          [digest for _, digest, _ in pending], result.vectors)
        embedded += len(pending)
        pending.clear()
        if progress:
            progress(seen, total, message())

    stopped = False
    for document in documents:
        text = document.model_input()
        digest = content_hash(text, cut_at)
        seen += 1
        if vector_set.has(document.id, digest):
            skipped += 1
            if progress and skipped % 10_000 == 0:
                progress(seen, total, message())
            continue
        pending.append((document.id, digest, text))
        if len(pending) >= chunk_size:
            if should_stop and should_stop():
                stopped = True
                seen -= len(pending)
                pending.clear()
                break
            flush()
    if pending and not stopped:
        if should_stop and should_stop():
            stopped = True
            seen -= len(pending)
        else:
            flush()
    if compact and not stopped:
        vector_set.compact()
    if progress:
        progress(seen, total, message())
    return EmbedReport(seen, embedded, skipped, stopped, time.time() - started)
