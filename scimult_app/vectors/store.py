"""Vector sets on disk: one float32 matrix with its ids per (corpus, model, expert, side).

A vector set is a folder with `manifest.json` and segments. A segment is either
`seg-NNNNN.npy` (the vectors, memory-mapped on read) with `seg-NNNNN.rows.json` (ids and
content hashes), or a Parquet file with the columns `id` (string), `vector` (list<float32>)
and optionally `hash` (what `embed --engine ray` writes). Segments are written whole and
then listed in the manifest (both atomically), so an interrupted write leaves the set as it
was before that segment. A later row with the same id supersedes an earlier one (an edited
paper); `compact()` folds all segments into one `.npy`. One writer at a time.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from scimult_app.analysis.ranking import row_norms
from scimult_app.errors import ScimultError
from scimult_app.paths import atomic_write_bytes, cache_dir

FORMAT = "scimult-vectors"
VERSION = 1
MANIFEST = "manifest.json"


def content_hash(text: str, max_length: int = 0) -> str:
    """16 hex characters for the text the encoder sees (and where it is cut)."""
    digest = hashlib.blake2b(f"{max_length}\x1f".encode(), digest_size=8)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "corpus"


def vector_set_folder(corpus_key: str, fingerprint: str, expert: str, side: str,
                      root: Path | str | None = None) -> Path:
    """Where the app keeps the set: <cache>/vectors/<corpus>/<fingerprint[:16]>/<expert>-<side>."""
    base = Path(root) if root else cache_dir() / "vectors"
    return base / _safe(corpus_key) / fingerprint[:16] / f"{_safe(expert)}-{_safe(side)}"


def _save_npy(path: Path, matrix: np.ndarray) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            np.save(out, np.ascontiguousarray(matrix, dtype=np.float32))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _parquet_vectors(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    names = set(table.column_names)
    if not {"id", "vector"} <= names:
        raise ScimultError(f"{path}: a vector Parquet file needs the columns 'id' and 'vector' "
                           f"(found {', '.join(sorted(names))}). Write it again with "
                           "`python -m scimult_app embed --engine ray`.")
    ids = [str(value) for value in table.column("id").to_pylist()]
    hashes = table.column("hash").to_pylist() if "hash" in names else [""] * len(ids)
    column = table.column("vector").combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if len(ids) and (lengths.min() != lengths.max()):
        raise ScimultError(f"{path}: vectors of different lengths ({lengths.min()} to "
                           f"{lengths.max()}); the file is damaged. Embed the corpus again.")
    dim = int(lengths[0]) if len(ids) else 0
    return ids, hashes, flat.reshape(len(ids), dim)


class VectorSet:
    """The vectors of one corpus under one model, expert and side, stored in `folder`."""

    def __init__(self, folder: Path | str, manifest: dict):
        self.folder = Path(folder)
        self.manifest = manifest
        self._rows: tuple[list[str], list[str]] | None = None
        self._where: dict[str, int] | None = None
        self._norms: np.ndarray | None = None

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: Path | str) -> VectorSet:
        """An existing set; a clear error when the folder holds none."""
        folder = Path(folder).expanduser()
        path = folder / MANIFEST
        if not path.is_file():
            raise ScimultError(f"{folder}: no vector set here (no {MANIFEST}). Create it with "
                               "`python -m scimult_app embed --output FOLDER ...`.")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ScimultError(f"{path}: cannot be read ({error}). Delete the folder and embed "
                               "the corpus again.") from None
        if manifest.get("format") != FORMAT:
            raise ScimultError(f"{path}: not a SciMult vector set manifest (format "
                               f"{manifest.get('format')!r}).")
        return cls(folder, manifest)

    @classmethod
    def create(cls, folder: Path | str, fingerprint: str, expert: str, side: str,
               corpus: str = "", dim: int | None = None, score_function: str | None = None
               ) -> VectorSet:
        """Open the set in `folder`, creating an empty one; an existing set made by another
        model, expert or side is an error (vectors of different models never mix)."""
        folder = Path(folder).expanduser()
        if (folder / MANIFEST).is_file():
            existing = cls.open(folder)
            existing.check(fingerprint, expert, side)
            return existing
        manifest = {"format": FORMAT, "version": VERSION, "model_fingerprint": fingerprint,
                    "expert": expert, "side": side, "corpus": corpus, "dim": dim, "count": 0,
                    "revision": 0, "segments": [], "updated": time.time()}
        if score_function:
            manifest["score_function"] = score_function
        folder.mkdir(parents=True, exist_ok=True)
        vector_set = cls(folder, manifest)
        vector_set._write_manifest()
        return vector_set

    def check(self, fingerprint: str | None = None, expert: str | None = None,
              side: str | None = None) -> None:
        """An error naming the folder when the set was made by another model, expert or side."""
        if fingerprint is not None and fingerprint.split("+")[0] == self.fingerprint.split("+")[0] \
                and fingerprint != self.fingerprint:
            made = self.fingerprint.partition("+")[2] or "float32"
            raise ScimultError(f"{self.folder}: this vector set was made by the same model at "
                               f"{made} precision. Give --precision {made}, or another --output "
                               "folder.")
        for what, wanted, have in (("model fingerprint", fingerprint, self.fingerprint),
                                   ("expert", expert, self.expert), ("side", side, self.side)):
            if wanted is not None and wanted != have:
                raise ScimultError(f"{self.folder}: this vector set was made with {what} "
                                   f"{have!r}, not {wanted!r}. Use another --output folder or "
                                   "the same model, expert and side.")

    # ------------------------------------------------------------ facts

    @property
    def fingerprint(self) -> str:
        return self.manifest["model_fingerprint"]

    @property
    def expert(self) -> str:
        return self.manifest["expert"]

    @property
    def side(self) -> str:
        return self.manifest["side"]

    @property
    def dim(self) -> int | None:
        return self.manifest.get("dim")

    @property
    def score_function(self) -> str:
        """The model's score function when it was recorded (dot otherwise)."""
        return self.manifest.get("score_function") or "dot"

    @property
    def revision(self) -> int:
        return int(self.manifest.get("revision", 0))

    def __len__(self) -> int:
        return int(self.manifest.get("count", 0))

    # ------------------------------------------------------------ rows

    def _segment_rows(self, segment: dict) -> tuple[list[str], list[str]]:
        path = self.folder / segment["file"]
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq
            columns = [c for c in ("id", "hash") if c in pq.read_schema(path).names]
            table = pq.read_table(path, columns=columns)
            ids = [str(value) for value in table.column("id").to_pylist()]
            hashes = table.column("hash").to_pylist() if "hash" in columns else [""] * len(ids)
            return ids, hashes
        rows = json.loads(path.with_suffix(".rows.json").read_text(encoding="utf-8"))
        return rows["ids"], rows["hashes"]

    def _all_rows(self) -> tuple[list[str], list[str]]:
        if self._rows is None:
            ids: list[str] = []
            hashes: list[str] = []
            for segment in self.manifest["segments"]:
                segment_ids, segment_hashes = self._segment_rows(segment)
                ids.extend(segment_ids)
                hashes.extend(segment_hashes)
            self._rows = (ids, hashes)
        return self._rows

    def _positions(self) -> dict[str, int]:
        """id -> position of its latest row among all segments' rows."""
        if self._where is None:
            self._where = {doc_id: row for row, doc_id in enumerate(self._all_rows()[0])}
        return self._where

    def _live(self) -> np.ndarray:
        """Positions of the rows that count (the latest per id), in storage order."""
        return np.fromiter(sorted(self._positions().values()), dtype=np.int64)

    def ids(self) -> list[str]:
        """The ids, in the order of `vectors()` rows."""
        all_ids = self._all_rows()[0]
        if len(all_ids) == len(self._positions()):
            return list(all_ids)
        return [all_ids[row] for row in self._live()]

    def has(self, doc_id: str, digest: str = "") -> bool:
        """Whether `doc_id` is stored (with this content hash, when one is given)."""
        row = self._positions().get(doc_id)
        if row is None:
            return False
        return not digest or self._all_rows()[1][row] == digest

    def vectors(self) -> np.ndarray:
        """(count, dim) float32: memory-mapped when the set is one .npy segment."""
        segments = self.manifest["segments"]
        if not segments:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        if len(segments) == 1 and segments[0]["file"].endswith(".npy") and \
                len(self._all_rows()[0]) == len(self):
            return np.load(self.folder / segments[0]["file"], mmap_mode="r")
        parts = []
        for segment in segments:
            path = self.folder / segment["file"]
            parts.append(_parquet_vectors(path)[2] if path.suffix == ".parquet"
                         else np.load(path, mmap_mode="r"))
        matrix = np.concatenate(parts).astype(np.float32, copy=False)
        if len(matrix) != len(self):
            matrix = matrix[self._live()]
        return matrix

    def norms(self) -> np.ndarray:
        """Row norms of `vectors()`, computed once per opened set (for cosine search)."""
        if self._norms is None or len(self._norms) != len(self):
            self._norms = row_norms(self.vectors())
        return self._norms

    def vectors_for(self, ids: list[str]) -> np.ndarray:
        """Rows for `ids` in that order; an id not in the set is an error naming it."""
        where = {doc_id: row for row, doc_id in enumerate(self.ids())}
        missing = [doc_id for doc_id in ids if doc_id not in where]
        if missing:
            raise ScimultError(f"{self.folder}: {len(missing)} id(s) have no vector yet (first: "
                               f"{missing[0]!r}). Embed the corpus into this set first.")
        return np.asarray(self.vectors()[[where[doc_id] for doc_id in ids]], dtype=np.float32)

    # ------------------------------------------------------------ writing

    def _write_manifest(self) -> None:
        self.manifest["updated"] = time.time()
        atomic_write_bytes(self.folder / MANIFEST,
                           json.dumps(self.manifest, indent=1).encode("utf-8"))

    def _next_name(self) -> str:
        numbers = [int(m.group(1)) for s in self.manifest["segments"]
                   if (m := re.fullmatch(r"seg-(\d+)\.npy", s["file"]))]
        return f"seg-{max(numbers, default=-1) + 1:05d}"

    def append(self, ids: list[str], hashes: list[str], vectors: np.ndarray) -> None:
        """Add rows as one new segment (an id already present is superseded)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors) or len(hashes) != len(ids):
            raise ValueError(f"{len(ids)} ids, {len(hashes)} hashes, {len(vectors)} vectors")
        if not len(ids):
            return
        if self.dim is None:
            self.manifest["dim"] = int(vectors.shape[1])
        elif vectors.shape[1] != self.dim:
            raise ScimultError(f"{self.folder}: vectors of {vectors.shape[1]} dimensions cannot "
                               f"join a set of {self.dim}.")
        name = self._next_name()
        _save_npy(self.folder / f"{name}.npy", vectors)
        atomic_write_bytes(self.folder / f"{name}.rows.json",
                           json.dumps({"ids": list(ids), "hashes": list(hashes)}).encode("utf-8"))
        all_ids, all_hashes = self._all_rows()
        positions = self._positions()
        for doc_id, digest in zip(ids, hashes):
            positions[str(doc_id)] = len(all_ids)
            all_ids.append(str(doc_id))
            all_hashes.append(digest)
        self.manifest["segments"].append({"file": f"{name}.npy", "rows": len(ids)})
        self.manifest["count"] = len(positions)
        self.manifest["revision"] = self.revision + 1
        self._write_manifest()

    def compact(self, keep_ids: set[str] | None = None) -> None:
        """Fold all segments into one `.npy` of the live rows (only `keep_ids`, when given),
        so the next open memory-maps one file; old segment files are removed afterwards."""
        segments = self.manifest["segments"]
        ids = self.ids()
        if len(segments) <= 1 and len(self._all_rows()[0]) == len(ids) and keep_ids is None:
            return
        matrix = self.vectors()
        hashes_by_position = self._all_rows()[1]
        hashes = [hashes_by_position[row] for row in self._live()]
        if keep_ids is not None:
            chosen = [row for row, doc_id in enumerate(ids) if doc_id in keep_ids]
            matrix = matrix[chosen]
            ids = [ids[row] for row in chosen]
            hashes = [hashes[row] for row in chosen]
        name = self._next_name()
        _save_npy(self.folder / f"{name}.npy", matrix)
        atomic_write_bytes(self.folder / f"{name}.rows.json",
                           json.dumps({"ids": ids, "hashes": hashes}).encode("utf-8"))
        old = [segment["file"] for segment in segments]
        self.manifest["segments"] = [{"file": f"{name}.npy", "rows": len(ids)}]
        self.manifest["count"] = len(ids)
        self.manifest["revision"] = self.revision + 1
        self._write_manifest()
        self._rows, self._where = (list(ids), list(hashes)), None
        for file in old:
            for path in (self.folder / file, (self.folder / file).with_suffix(".rows.json")):
                if path.exists():
                    path.unlink()

    def describe(self) -> str:
        return (f"{len(self)} vectors of {self.dim} dimensions ({self.expert} expert, "
                f"{self.side} side, model {self.fingerprint[:12]}) in {self.folder}")


def open_vector_set(corpus_key: str, fingerprint: str, expert: str, side: str,
                    root: Path | str | None = None, score_function: str | None = None
                    ) -> VectorSet:
    """The app's set for this corpus and model, created empty on first use."""
    folder = vector_set_folder(corpus_key, fingerprint, expert, side, root)
    return VectorSet.create(folder, fingerprint, expert, side, corpus=corpus_key,
                            score_function=score_function)
