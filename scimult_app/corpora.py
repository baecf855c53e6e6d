"""Corpora kept by name on disk (JSONL + a small meta file), so nothing is lost on restart.

The demo corpus is always there, read-only, straight from data/papers.jsonl.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict
from pathlib import Path

from . import demo
from .documents import Document, document_from_record
from .errors import InputError
from .paths import atomic_write_bytes, cache_dir

DEMO_CORPUS = "Demo papers"
MAX_NAME = 80


def _slug(name: str) -> str:
    """A file-safe stem: the name's letters and digits plus a short hash of the name."""
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "corpus"
    return f"{stem}-{hashlib.blake2b(name.encode(), digest_size=3).hexdigest()}"


def _document(record: dict, fallback_id: str) -> Document:
    extra = record.pop("extra", None) or {}
    return document_from_record({**extra, **record}, fallback_id)


class CorpusStore:
    """Named corpora under `root` (default: the app cache's corpora/ folder)."""

    def __init__(self, root: Path | None = None, data_dir: Path | None = None):
        self.root = Path(root) if root else cache_dir() / "corpora"
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir

    def _metas(self) -> dict[str, tuple[Path, dict]]:
        found = {}
        for meta_path in sorted(self.root.glob("*.meta.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                found[meta["name"]] = (meta_path, meta)
            except (OSError, ValueError, KeyError):
                continue  # a damaged meta file hides that corpus, never the others
        return found

    def names(self) -> list[str]:
        return [DEMO_CORPUS, *sorted(self._metas(), key=str.lower)]

    def info(self, name: str) -> dict:
        if name == DEMO_CORPUS:
            return {"name": DEMO_CORPUS, "count": len(demo.papers(self.data_dir)),
                    "created": "", "source": "shipped demo data (read-only)"}
        return self._entry(name)[1]

    def _entry(self, name: str) -> tuple[Path, dict]:
        metas = self._metas()
        if name not in metas:
            raise InputError(f"There is no corpus called “{name}”. Pick one of: "
                             f"{', '.join(self.names())}.")
        return metas[name]

    def _data_path(self, meta_path: Path) -> Path:
        return meta_path.with_name(meta_path.name.replace(".meta.json", ".jsonl"))

    def load(self, name: str) -> list[Document]:
        if name == DEMO_CORPUS:
            return demo.papers(self.data_dir)
        meta_path, _ = self._entry(name)
        with open(self._data_path(meta_path), encoding="utf-8") as lines:
            return [_document(json.loads(line), str(n))
                    for n, line in enumerate(lines, 1) if line.strip()]

    def _check_name(self, name: str) -> str:
        name = (name or "").strip()
        if not name:
            raise InputError("Give the corpus a name.")
        if len(name) > MAX_NAME:
            raise InputError(f"The name is {len(name)} characters long; keep it under {MAX_NAME}.")
        if name == DEMO_CORPUS:
            raise InputError(f"“{DEMO_CORPUS}” is the shipped demo corpus and cannot be "
                             "changed; choose another name.")
        return name

    def save(self, name: str, docs: list[Document], source: str = "",
             overwrite: bool = False) -> None:
        """Write a corpus atomically; an existing one is replaced only with overwrite=True."""
        name = self._check_name(name)
        if not docs:
            raise InputError("There are no documents to save; add some text first.")
        existing = self._metas().get(name)
        if existing and not overwrite:
            raise InputError(f"A corpus called “{name}” already exists. Choose another name, "
                             "add to it, or replace it.")
        meta_path = existing[0] if existing else self.root / f"{_slug(name)}.meta.json"
        while not existing and meta_path.exists():
            meta_path = self.root / f"{_slug(name)}-{int(time.time() * 1000) % 10**6}.meta.json"
        lines = "".join(json.dumps(asdict(doc), ensure_ascii=False) + "\n" for doc in docs)
        atomic_write_bytes(self._data_path(meta_path), lines.encode("utf-8"))
        meta = {"name": name, "count": len(docs), "source": source,
                "created": time.strftime("%Y-%m-%d %H:%M")}
        atomic_write_bytes(meta_path, json.dumps(meta).encode("utf-8"))

    def add(self, name: str, docs: list[Document]) -> int:
        """Append documents whose ids are new; returns how many were added."""
        current = self.load(self._check_name(name))
        known = {doc.id for doc in current}
        fresh = [doc for doc in docs if doc.id not in known]
        self.save(name, current + fresh, self.info(name).get("source", ""), overwrite=True)
        return len(fresh)

    def rename(self, old: str, new: str) -> None:
        old_meta, meta = self._entry(self._check_name(old))
        new = self._check_name(new)
        if new in self._metas():
            raise InputError(f"A corpus called “{new}” already exists.")
        atomic_write_bytes(old_meta, json.dumps({**meta, "name": new}).encode("utf-8"))

    def delete(self, name: str) -> None:
        meta_path, _ = self._entry(self._check_name(name))
        self._data_path(meta_path).unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
