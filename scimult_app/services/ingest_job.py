"""Big corpus files (JSONL, JSONL.gz, Parquet, or a folder of shards) into the corpus store as
a background job, streamed: batches are read and written one after another, so a 1 GB file
is never held whole (the store then holds the parsed corpus once, when a page opens it).

Uploads are first saved to disk (`services.uploads.save_upload`); server paths are read in
place, unless SCIMULT_APP_ALLOW_PATHS=0 switches server paths off.
"""
from __future__ import annotations

import os
from pathlib import Path

from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import CorpusStore
from scimult_app.corpus.stream import JSONL_SUFFIXES, PARQUET_SUFFIXES, iter_document_batches
from scimult_app.errors import InputError
from scimult_app.services.jobs import JOBS, Job

BIG_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES
PREVIEW_ROWS = 20
PREFIX = "ingest:"


def paths_allowed() -> bool:
    """Whether the app may read files by server path (SCIMULT_APP_ALLOW_PATHS, default on)."""
    return os.environ.get("SCIMULT_APP_ALLOW_PATHS", "1") != "0"


def is_big_format(filename: str) -> bool:
    return filename.lower().endswith(BIG_SUFFIXES)


def checked_server_path(text: str) -> Path:
    """A server path the user typed, refused when paths are switched off."""
    if not paths_allowed():
        raise InputError("Reading files by server path is switched off on this server "
                         "(SCIMULT_APP_ALLOW_PATHS=0). Upload the file instead.")
    path = Path(text.strip()).expanduser()
    if not text.strip():
        raise InputError("Give the path of a .jsonl, .jsonl.gz or .parquet file, or a folder "
                         "of them, on the server.")
    return path


def preview(source: str | Path, rows: int = PREVIEW_ROWS) -> list[Document]:
    """The first papers of a big file, read without reading the rest."""
    first = next(iter_document_batches(source, batch_rows=rows), [])
    return first[:rows]


def _add_batches(store: CorpusStore, name: str, batches):
    """The stored corpus followed by the streamed papers whose ids are new."""
    current = store.load(name)
    known = {doc.id for doc in current}
    yield current
    for batch in batches:
        fresh = [doc for doc in batch if doc.id not in known]
        known.update(doc.id for doc in fresh)
        yield fresh


def ingest(store: CorpusStore, name: str, source: str | Path, mode: str = "refuse",
           label: str = "", progress=None) -> int:
    """Stream a big file into the store; returns the corpus's paper count afterwards.

    mode: "refuse" (an existing name is an error), "replace", or "add" (new ids only).
    """
    batches = iter_document_batches(source)
    if mode == "add" and name in store.names():
        batches = _add_batches(store, name, batches)
        source_label = store.info(name).get("source", "")
    else:
        source_label = label or str(source)
    return store.save_stream(name, batches, source=source_label,
                             overwrite=mode in ("replace", "add"), progress=progress)


def start_ingest(store: CorpusStore, name: str, source: str | Path, mode: str = "refuse",
                 label: str = "", total: int = 0) -> Job:
    """`ingest` as a background job (progress: papers written of `total` when known)."""
    def work(job: Job) -> str:
        count = ingest(store, name, source, mode, label,
                       progress=lambda done: job.report(done, total, "papers written"))
        return f"Saved “{name}” ({count:,} papers)."
    return JOBS.start(f"{PREFIX}{name}", work, f"Saving “{name}”", restart=True)
