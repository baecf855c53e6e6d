"""Corpora kept by name on disk (JSONL + a small meta file), so nothing is lost on restart.

Each corpus is `<file stem>.jsonl` (one Document a line) and `<file stem>.meta.json` (name, count,
created, source); the display name lives in the meta file, so renaming moves no data.
`<file stem>.parquet` is a columnar copy of the JSONL that opens faster (`corpus.columns`):
written with every save, rebuilt from the JSONL whenever it is missing, stale or damaged.
The demo corpus is always there, read-only, straight from data/papers.jsonl.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from scimult_app.corpus import demo
from scimult_app.corpus.columns import ColumnWriter, copy_path, read_copy, write_copy
from scimult_app.corpus.documents import Document, json_default
from scimult_app.errors import InputError
from scimult_app.paths import atomic_write_bytes, cache_dir

DEMO_CORPUS = "Demo papers"
DEMO_KEY = "demo-papers"
MAX_NAME = 80
LOADED_KEEP = 3  # corpora kept parsed in memory (by file state), so a rerun does not re-read
FIELDS = {field.name for field in dataclasses.fields(Document)}


def file_stem(name: str) -> str:
    """A file-safe stem: the name's letters and digits plus a short hash of the exact name."""
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "corpus"
    return f"{stem}-{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"


def _document(record: dict) -> Document:
    return Document(**{key: value for key, value in record.items() if key in FIELDS})


def _file_state(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _is_demo(name: str) -> bool:
    return " ".join(name.split()).lower() == DEMO_CORPUS.lower()


class CorpusStore:
    """Named corpora under `root` (default: the app cache's corpora/ folder).

    `data_dir` is where the demo corpus's papers.jsonl lives (default: the repo's data/).
    """

    def __init__(self, root: Path | str | None = None, data_dir: Path | str | None = None):
        self.root = Path(root) if root else cache_dir() / "corpora"
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else None
        self._loaded: OrderedDict[tuple, list[Document]] = OrderedDict()
        self._lock = threading.Lock()

    # -------------------------------------------------------------- reading

    def _metas(self) -> dict[str, tuple[Path, dict]]:
        found = {}
        for meta_path in sorted(self.root.glob("*.meta.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                found[str(meta["name"])] = (meta_path, meta)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged meta file hides that corpus, never the others
        return found

    def _entry(self, name: str) -> tuple[Path, dict]:
        metas = self._metas()
        if name not in metas:
            raise InputError(f"There is no corpus called “{name}”. Pick one of: "
                             f"{', '.join(self.names())}.")
        return metas[name]

    @staticmethod
    def _data_path(meta_path: Path) -> Path:
        return meta_path.with_name(meta_path.name[:-len(".meta.json")] + ".jsonl")

    def names(self) -> list[str]:
        """The demo corpus first, then saved corpora sorted by name (case-insensitive)."""
        return [DEMO_CORPUS, *sorted(self._metas(), key=lambda n: (n.lower(), n))]

    def info(self, name: str) -> dict:
        """name, count, created, source (and updated, after a replace or an add)."""
        if name == DEMO_CORPUS:
            return {"name": DEMO_CORPUS, "count": len(demo.papers(self.data_dir)),
                    "created": "", "source": "shipped demo data (read-only)"}
        return dict(self._entry(name)[1])

    def load(self, name: str) -> list[Document]:
        if name == DEMO_CORPUS:
            return demo.papers(self.data_dir)
        meta_path, _ = self._entry(name)
        path = self._data_path(meta_path)
        try:
            state = (str(path), *_file_state(path))
            with self._lock:
                cached = self._loaded.get(state)
                if cached is not None:
                    self._loaded.move_to_end(state)
                    return cached
            docs = read_copy(copy_path(path), state[1:])
            if docs is None:
                docs = self._parse(path)
                if _file_state(path) == state[1:]:  # unchanged while it was read
                    write_copy(copy_path(path), docs, state[1:])
        except (OSError, ValueError, TypeError) as error:
            raise InputError(f"The corpus “{name}” cannot be read ({path}: {error}). Delete "
                             "it and add its papers again.") from None
        with self._lock:
            self._loaded[state] = docs
            while len(self._loaded) > LOADED_KEEP:
                self._loaded.popitem(last=False)
        return docs

    @staticmethod
    def _parse(path: Path) -> list[Document]:
        docs = []
        with open(path, encoding="utf-8") as lines:  # a line at a time: no second copy
            for line in lines:
                if line.strip():
                    docs.append(_document(json.loads(line)))
        return docs

    def key(self, name: str) -> str:
        """A stable key for what is computed from this corpus (its vectors): the file stem,
        which a rename keeps."""
        if name == DEMO_CORPUS:
            return DEMO_KEY
        return self._entry(name)[0].name[:-len(".meta.json")]

    def signature(self, name: str) -> tuple:
        """Changes whenever the corpus's papers change (file size and modification time)."""
        if name == DEMO_CORPUS:
            return (DEMO_KEY, len(demo.papers(self.data_dir)))
        meta_path, _ = self._entry(name)
        return (meta_path.name, *_file_state(self._data_path(meta_path)))

    # -------------------------------------------------------------- writing

    def _check_name(self, name: str) -> str:
        name = " ".join((name or "").split())
        if not name:
            raise InputError("Give the corpus a name.")
        if len(name) > MAX_NAME:
            raise InputError(f"The name is {len(name)} characters long; the limit is "
                             f"{MAX_NAME}. Choose a shorter name.")
        if _is_demo(name):
            raise InputError(f"“{DEMO_CORPUS}” is the shipped demo corpus and is read-only; "
                             "choose another name.")
        return name

    def save(self, name: str, docs: list[Document], source: str = "",
             overwrite: bool = False) -> None:
        """Write a corpus atomically; an existing one is replaced only with overwrite=True.

        A refused or failed save leaves any existing corpus as it was.
        """
        docs = list(docs or [])
        self.save_stream(name, [docs] if docs else [], source=source, overwrite=overwrite)

    def save_stream(self, name: str, batches: Iterable[list[Document]], source: str = "",
                    overwrite: bool = False, progress=None) -> int:
        """Write a corpus from batches of documents without holding them all; returns the count.

        The papers go line by line into a temporary file that replaces the corpus only once
        every batch is written and checked (ids unique, at least one paper), so a refused or
        failed save leaves any existing corpus as it was. `progress(count)` after each batch.
        """
        name = self._check_name(name)
        existing = self._metas().get(name)
        if existing and not overwrite:
            raise InputError(f"A corpus called “{name}” already exists. Choose another name, "
                             "add to it, or replace it.")
        if existing:
            meta_path = existing[0]
        else:
            meta_path = self.root / f"{file_stem(name)}.meta.json"
            number = 2
            while meta_path.exists():  # the file stem is held by a renamed or damaged corpus
                meta_path = self.root / f"{file_stem(name)}-{number}.meta.json"
                number += 1
        data_path = self._data_path(meta_path)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=f".{data_path.name}.")
        columns = ColumnWriter(copy_path(data_path))
        ids: set[str] = set()
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                for batch in batches:
                    for doc in batch:
                        if doc.id in ids:
                            raise InputError(f"The id “{doc.id}” appears twice in “{name}”; "
                                             "ids must be unique.")
                        ids.add(doc.id)
                        out.write(json.dumps(dataclasses.asdict(doc), ensure_ascii=False,
                                             default=json_default) + "\n")
                        columns.add(doc)
                    if progress:
                        progress(len(ids))
            if not ids:
                raise InputError(f"There are no documents to save in “{name}”; add some papers "
                                 "first.")
            now = time.strftime("%Y-%m-%d %H:%M")
            if existing:
                old = existing[1]
                meta = {**old, "name": name, "count": len(ids), "updated": now,
                        "source": source or old.get("source", "")}
            else:
                meta = {"name": name, "count": len(ids), "created": now, "source": source}
            state = _file_state(Path(temporary))  # a rename keeps size and mtime
            os.replace(temporary, data_path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            columns.discard()
            raise
        if not columns.finish(state):  # the old copy is stale: it goes
            copy_path(data_path).unlink(missing_ok=True)
        atomic_write_bytes(meta_path, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        return len(ids)

    def add(self, name: str, docs: list[Document]) -> int:
        """Append documents whose ids are new to an existing corpus; returns how many."""
        name = self._check_name(name)
        current = self.load(name)
        known = {doc.id for doc in current}
        fresh = []
        for doc in docs:
            if doc.id not in known:
                known.add(doc.id)
                fresh.append(doc)
        if fresh:
            self.save(name, current + fresh, self.info(name).get("source", ""), overwrite=True)
        return len(fresh)

    def rename(self, old: str, new: str) -> None:
        """Give a corpus a new display name (its files stay where they are)."""
        meta_path, meta = self._entry(self._check_name(old))
        new = self._check_name(new)
        if new == meta["name"]:
            return
        if new in self._metas():
            raise InputError(f"A corpus called “{new}” already exists; choose another name.")
        atomic_write_bytes(meta_path, json.dumps({**meta, "name": new},
                                                 ensure_ascii=False).encode("utf-8"))

    def delete(self, name: str) -> None:
        meta_path, _ = self._entry(self._check_name(name))
        meta_path.unlink(missing_ok=True)  # the meta first: a half-deleted corpus is gone
        self._data_path(meta_path).unlink(missing_ok=True)
        copy_path(self._data_path(meta_path)).unlink(missing_ok=True)
