"""Embedding cache on disk: one SQLite file per checkpoint fingerprint.

An entry is keyed by expert id, side, max length and text, and carries a checksum of its
bytes. Writes are transactions (atomic); an entry whose size or checksum is wrong is
recomputed; a damaged file is moved aside and started anew.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from scimult_app.paths import cache_dir


def checksum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def entry_key(expert_index: int, side: str, max_length: int, text: str) -> str:
    digest = hashlib.blake2b(f"{expert_index}\x1f{side}\x1f{max_length}\x1f".encode(), digest_size=20)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class EmbeddingCache:
    """Vectors of one model (by content fingerprint), stored as float32 blobs."""

    def __init__(self, fingerprint: str, root: Path | None = None):
        self.path = (root or cache_dir()) / "embeddings" / f"{fingerprint}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is not None:
            return self._connection
        for attempt in range(2):
            try:
                connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                connection.execute("CREATE TABLE IF NOT EXISTS vectors "
                                   "(key TEXT PRIMARY KEY, dim INTEGER, data BLOB, checksum BLOB)")
                connection.execute("SELECT count(*) FROM vectors").fetchone()
                self._connection = connection
                return connection
            except sqlite3.DatabaseError as error:
                if attempt == 0:
                    aside = self.path.with_suffix(f".corrupt-{int(time.time())}")
                    warnings.warn(f"embedding cache {self.path} is damaged ({error}); moved to "
                                  f"{aside.name} and started anew", stacklevel=2)
                    self.path.rename(aside)
                else:
                    warnings.warn(f"embedding cache disabled: {error}", stacklevel=2)
        return None

    def get_many(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        """Vectors found for `keys`; entries of the wrong size are treated as missing."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            connection = self._connect()
            if connection is None:
                return found
            unique = list(dict.fromkeys(keys))
            try:
                for start in range(0, len(unique), 500):
                    chunk = unique[start:start + 500]
                    rows = connection.execute(
                        f"SELECT key, dim, data, checksum FROM vectors WHERE key IN "
                        f"({','.join('?' * len(chunk))})", chunk).fetchall()
                    for key, stored_dim, data, stored_sum in rows:
                        if (stored_dim == dim and isinstance(data, bytes) and len(data) == 4 * dim
                                and stored_sum == checksum(data)):
                            found[key] = np.frombuffer(data, dtype=np.float32)
            except sqlite3.DatabaseError as error:
                warnings.warn(f"embedding cache read failed ({error}); recomputing", stacklevel=2)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        with self._lock:
            connection = self._connect()
            if connection is None:
                return
            rows = []
            for key, vector in items.items():
                data = np.ascontiguousarray(vector, np.float32).tobytes()
                rows.append((key, int(vector.shape[0]), data, checksum(data)))
            try:
                with connection:
                    connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            except sqlite3.DatabaseError as error:
                warnings.warn(f"embedding cache write failed ({error}); continuing without it", stacklevel=2)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
