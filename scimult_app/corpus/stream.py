"""Big corpora read in batches: JSONL, JSONL.gz and Parquet files (or a folder of shards).

Rows become Documents through `document_from_record`, a batch at a time, so a 1 GB file is
never held whole: JSONL is read line by line, Parquet by row groups (pyarrow). Ids come from
an `id` field, else the row number within the file (1-based); an id seen twice is an error.
"""
from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from scimult_app.corpus.documents import Document, document_from_record, json_object
from scimult_app.errors import InputError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
FIX = "Give JSONL (.jsonl or .jsonl.gz, one object a line with 'id', 'title', 'abstract' or " \
      "'text') or Parquet with those columns, or a folder of such files."


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def corpus_files(source: str | Path) -> list[Path]:
    """The files of a corpus: one file, or every JSONL/Parquet file in a folder (sorted)."""
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _kind(p)
                       and not p.name.startswith("."))
        if not files:
            raise InputError(f"{path}: the folder holds no .jsonl, .jsonl.gz or .parquet files. {FIX}")
        return files
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder. {FIX}")
    if _kind(path) is None:
        raise InputError(f"{path}: unknown corpus format '{path.suffix}'. {FIX}")
    return [path]


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                yield number, json_object(line, f"{path}, line {number}",
                                          f"Each line must be one JSON object. {FIX}")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start}). Save it as UTF-8.") from None
    except (OSError, EOFError) as error:  # a damaged or truncated .gz
        raise InputError(f"{path}: cannot be read ({error}). Check that the file is complete.") from None


def _parquet_records(path: Path, batch_rows: int) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq
    try:
        reader = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several kinds for a file that is not Parquet
        raise InputError(f"{path}: not a readable Parquet file ({error}). {FIX}") from None
    number = 0
    for batch in reader.iter_batches(batch_size=batch_rows):
        for record in batch.to_pylist():
            number += 1
            yield number, record


def _records(path: Path, batch_rows: int) -> Iterator[tuple[int, dict]]:
    if _kind(path) == "parquet":
        return _parquet_records(path, batch_rows)
    return _jsonl_records(path)


def iter_document_batches(source: str | Path, batch_rows: int = 4096) -> Iterator[list[Document]]:
    """Documents of a file or folder of shards, `batch_rows` at a time, in file order.

    A row without text, or an id seen before, raises InputError naming the file and row.
    With several files, ids that fall back to row numbers are prefixed by the file's stem.
    """
    files = corpus_files(source)
    seen: set[str] = set()
    batch: list[Document] = []
    for path in files:
        prefix = f"{path.name.split('.')[0]}:" if len(files) > 1 else ""
        for number, record in _records(path, batch_rows):
            document = document_from_record(record, f"{prefix}{number}")
            if not document.model_input().strip():
                raise InputError(f"{path}, row {number} (id {document.id}): no text; it needs "
                                 "'text', or 'title' and/or 'abstract'.")
            if document.id in seen:
                raise InputError(f"{path}, row {number}: the id {document.id!r} appears twice; "
                                 "ids must be unique across the corpus.")
            seen.add(document.id)
            batch.append(document)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
    if batch:
        yield batch
    if not seen:
        raise InputError(f"{source}: holds no documents. {FIX}")


def iter_documents(source: str | Path, batch_rows: int = 4096) -> Iterator[Document]:
    """The same documents one at a time."""
    for batch in iter_document_batches(source, batch_rows):
        yield from batch


def count_rows(source: str | Path) -> int:
    """Rows in the corpus (Parquet from its metadata; JSONL by counting non-blank lines)."""
    total = 0
    for path in corpus_files(source):
        if _kind(path) == "parquet":
            import pyarrow.parquet as pq
            total += pq.ParquetFile(path).metadata.num_rows
        else:
            opener = gzip.open if path.name.lower().endswith(".gz") else open
            with opener(path, "rb") as lines:
                total += sum(1 for line in lines if line.strip())
    return total
