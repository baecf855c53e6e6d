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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scimult_app.corpus.documents import Document, json_default

VERSION = 1
KEY = "scimult-columns"  # the file's key-value metadata: layout version, JSONL state, rows
ROW_GROUP = 10_000
SCHEMA = pa.schema([("id", pa.string()), ("title", pa.string()), ("abstract", pa.string()),
                    ("text", pa.string()), ("year", pa.int64()),
                    ("labels", pa.list_(pa.string())), ("extra", pa.string())])
_INT64 = (-(1 << 63), (1 << 63) - 1)
_FAILURES = (OSError, ValueError, TypeError, OverflowError, pa.ArrowException)


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


def _table(docs: list[Document]) -> pa.Table:
    return pa.Table.from_arrays([
        pa.array([d.id for d in docs], pa.string()),
        pa.array([d.title for d in docs], pa.string()),
        pa.array([d.abstract for d in docs], pa.string()),
        pa.array([d.text for d in docs], pa.string()),
        pa.array([d.year for d in docs], pa.int64()),
        pa.array([d.labels for d in docs], pa.list_(pa.string())),
        pa.array([_extra_text(d.extra) for d in docs], pa.string())], schema=SCHEMA)


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
        self._writer: pq.ParquetWriter | None = None

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
            except _FAILURES:  # the copy is given up; the JSONL is written all the same
                self.discard()

    def _flush(self) -> None:
        if self._writer is None:
            handle, self.temporary = tempfile.mkstemp(dir=self.path.parent,
                                                      prefix=f".{self.path.name}.")
            os.close(handle)
            self._writer = pq.ParquetWriter(self.temporary, SCHEMA, compression="lz4",
                                            use_dictionary=False, write_page_checksum=True)
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
        except _FAILURES:
            self.discard()
            return False

    def discard(self) -> None:
        """Give up the copy: the temporary file goes."""
        self.fits = False
        self._pending = []
        try:
            if self._writer is not None:
                self._writer.close()
        except _FAILURES:
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
    walk every object made so far, again and again (three times slower for 100,000 papers)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _labels(column: pa.ChunkedArray) -> list[list[str]]:
    """A list<string> column as lists of str, sliced from its flat values."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    values = array.values.to_pylist()
    offsets = array.offsets.to_numpy().tolist()
    return [values[start:end] for start, end in zip(offsets, offsets[1:])]


def read_copy(path: Path, state: tuple[int, int]) -> list[Document] | None:
    """The documents of the copy of a JSONL of `state`; None when there is no such copy (none
    at all, another JSONL state, another layout, or a damaged file)."""
    try:
        file = pq.ParquetFile(path, page_checksum_verification=True)
        facts = json.loads((file.metadata.metadata or {}).get(KEY.encode(), b"null"))
        if not isinstance(facts, dict) or facts.get("version") != VERSION or \
                [facts.get("size"), facts.get("mtime_ns")] != list(state):
            return None
        if not file.schema_arrow.remove_metadata().equals(SCHEMA):
            return None
        table = file.read()
        if table.num_rows != facts.get("rows") or any(
                table.column(name).null_count for name in SCHEMA.names if name != "year"):
            return None
        with _no_collection():
            ids, titles, abstracts, texts, years, extras = (
                table.column(name).to_pylist()
                for name in ("id", "title", "abstract", "text", "year", "extra"))
            labels = _labels(table.column("labels"))
            del table
            return [Document(doc_id, title, abstract, text, year, doc_labels,
                             json.loads(extra) if extra else {})
                    for doc_id, title, abstract, text, year, doc_labels, extra
                    in zip(ids, titles, abstracts, texts, years, labels, extras)]
    except (*_FAILURES, KeyError):
        return None
