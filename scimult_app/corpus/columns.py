"""A columnar copy of a stored corpus: `<stem>.parquet` beside `<stem>.jsonl`, read into
Documents several times faster than the JSON lines are parsed.

The JSONL stays the truth. The copy names the size and modification time of the JSONL it
copies; a copy that is missing, stale, damaged or of another layout is never read (the store
parses the JSONL and writes the copy again). Only documents whose fields have exactly the
types that JSON gives back go into columns (text as str, year as int or None, labels as a
list of str, extra as a dict); a corpus with any other document has no copy and is read from
its JSONL.
"""
from __future__ import annotations

import gc
import json
import os
import tempfile
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

from scimult_app.corpus.documents import Document, json_default

VERSION = 1
KEY = "scimult-columns"  # the file's key-value metadata: layout version, JSONL state, rows
ROW_GROUP = 10_000
BATCH = 2_000  # rows turned into Documents at a time: less memory held, as fast
_INT64 = (-(1 << 63), (1 << 63) - 1)


@cache
def _arrow():
    """pyarrow, imported on first use (up to a second of start-up where nothing else needs it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    return pa, pq


@cache
def schema():
    pa = _arrow()[0]
    return pa.schema([("id", pa.string()), ("title", pa.string()), ("abstract", pa.string()),
                      ("text", pa.string()), ("year", pa.int64()),
                      ("labels", pa.list_(pa.string())), ("extra", pa.string())])


def _failures() -> tuple[type[BaseException], ...]:
    """What a damaged file or a value arrow cannot hold raises."""
    return (OSError, ValueError, TypeError, KeyError, OverflowError, _arrow()[0].ArrowException)


def copy_path(data_path: Path) -> Path:
    """`<stem>.parquet` for `<stem>.jsonl`."""
    return data_path.with_suffix(".parquet")


def fits(doc: Document) -> bool:
    """Whether the columns give this document back exactly as its JSON line does."""
    year = doc.year
    return (type(doc.id) is str and type(doc.title) is str and type(doc.abstract) is str
            and type(doc.text) is str and type(doc.labels) is list and type(doc.extra) is dict
            and (year is None or (type(year) is int and _INT64[0] <= year <= _INT64[1]))
            and all(type(label) is str for label in doc.labels))


def _extra_text(extra: dict) -> str:
    return json.dumps(extra, ensure_ascii=False, default=json_default) if extra else ""


def _table(docs: list[Document]):
    pa = _arrow()[0]
    return pa.Table.from_arrays([
        pa.array([d.id for d in docs], pa.string()),
        pa.array([d.title for d in docs], pa.string()),
        pa.array([d.abstract for d in docs], pa.string()),
        pa.array([d.text for d in docs], pa.string()),
        pa.array([d.year for d in docs], pa.int64()),
        pa.array([d.labels for d in docs], pa.list_(pa.string())),
        pa.array([_extra_text(d.extra) for d in docs], pa.string())], schema=schema())


class ColumnWriter:
    """Documents into a temporary Parquet file a row group at a time; `finish` moves it into
    place naming the JSONL state it copies. A document that does not fit ends the copy
    (`fits` turns False) and nothing is written."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.temporary: str | None = None  # made by the first write
        self.fits = True
        self.rows = 0
        self._pending: list[Document] = []
        self._writer = None  # a pyarrow.parquet.ParquetWriter once there is something to write

    def add(self, doc: Document) -> None:
        if not self.fits:
            return
        if not fits(doc):
            self.discard()
            return
        self._pending.append(doc)
        if len(self._pending) >= ROW_GROUP:
            try:
                self._flush()
            except _failures():  # the copy is given up; the JSONL is written all the same
                self.discard()

    def _flush(self) -> None:
        if self._writer is None:
            handle, self.temporary = tempfile.mkstemp(dir=self.path.parent,
                                                      prefix=f".{self.path.name}.")
            os.close(handle)
            self._writer = _arrow()[1].ParquetWriter(
                self.temporary, schema(), compression="lz4", use_dictionary=False,
                write_page_checksum=True)
        if self._pending:
            self._writer.write_table(_table(self._pending), row_group_size=ROW_GROUP)
            self.rows += len(self._pending)
            self._pending = []

    def finish(self, state: tuple[int, int]) -> bool:
        """Close the file and move it into place as the copy of a JSONL of `state` (size,
        mtime_ns); False (and no file) when a document did not fit or writing failed."""
        if not self.fits:
            return False
        try:
            self._flush()
            self._writer.add_key_value_metadata({KEY: json.dumps(
                {"version": VERSION, "size": state[0], "mtime_ns": state[1], "rows": self.rows})})
            self._writer.close()
            self._writer = None
            os.replace(self.temporary, self.path)
            return True
        except _failures():
            self.discard()
            return False

    def discard(self) -> None:
        """Give up the copy: the temporary file goes."""
        self.fits = False
        self._pending = []
        try:
            if self._writer is not None:
                self._writer.close()
        except _failures():
            pass
        self._writer = None
        if self.temporary:
            with suppress(OSError):
                os.unlink(self.temporary)


def write_copy(path: Path, docs: list[Document], state: tuple[int, int]) -> bool:
    """Write the copy of a JSONL of `state` holding `docs`; False when they do not fit or the
    file cannot be written (the corpus is then read from its JSONL)."""
    writer = ColumnWriter(path)
    try:
        for doc in docs:
            writer.add(doc)
        return writer.finish(state)
    except BaseException:
        writer.discard()
        raise


@contextmanager
def _no_collection():
    """No garbage collection while many new objects are built: the collector would otherwise
    walk every object made so far, again and again (several times slower for 100,000 papers)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _labels(array) -> list[list[str]]:
    """A list<string> array as lists of str, sliced from its flat values."""
    values = array.values.to_pylist()
    offsets = array.offsets.to_pylist()  # (to_numpy would import pandas: 0.4 s)
    return [values[start:end] for start, end in zip(offsets, offsets[1:])]


def _documents(batch) -> list[Document]:
    ids, titles, abstracts, texts, years, extras = (
        batch.column(name).to_pylist()
        for name in ("id", "title", "abstract", "text", "year", "extra"))
    labels = _labels(batch.column("labels"))
    return [Document(doc_id, title, abstract, text, year, doc_labels,
                     json.loads(extra) if extra else {})
            for doc_id, title, abstract, text, year, doc_labels, extra
            in zip(ids, titles, abstracts, texts, years, labels, extras)]


def read_copy(path: Path, state: tuple[int, int]) -> list[Document] | None:
    """The documents of the copy of a JSONL of `state`; None when there is no such copy (none
    at all, another JSONL state, another layout, or a damaged file)."""
    pq = _arrow()[1]
    try:
        # memory-mapped and a batch at a time, on one thread: on two busy cores that is a
        # third of the time of reading it whole (fewer fresh pages, no thread contention).
        # A copy is only ever replaced by a rename, never rewritten in place while mapped.
        file = pq.ParquetFile(path, memory_map=True, page_checksum_verification=True)
        facts = json.loads((file.metadata.metadata or {}).get(KEY.encode(), b"null"))
        if not isinstance(facts, dict) or facts.get("version") != VERSION or \
                [facts.get("size"), facts.get("mtime_ns")] != list(state) or \
                file.metadata.num_rows != facts.get("rows") or \
                not file.schema_arrow.remove_metadata().equals(schema()):
            return None
        docs: list[Document] = []
        with _no_collection():
            for batch in file.iter_batches(batch_size=BATCH, use_threads=False):
                if any(batch.column(name).null_count for name in schema().names
                       if name != "year"):
                    return None
                docs.extend(_documents(batch))
        return docs if len(docs) == facts["rows"] else None
    except _failures():
        return None
