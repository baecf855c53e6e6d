"""Embedding cache on disk: one SQLite file per model fingerprint.

An entry is keyed by expert id, side, max length and text, and carries a checksum of its
bytes and whether the text was cut at the max length (so a cached text is never re-tokenized
just to count that). Writes are transactions (atomic); an entry whose size or checksum is
wrong is recomputed. The database runs in WAL mode with a busy timeout, so readers and a
writer in other processes do not block each other; a locked database is waited for and then
skipped for that call, never taken for damage. Only a file SQLite says is not a database, or
is malformed, is moved aside and started anew.
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

BUSY_TIMEOUT = 30.0  # seconds to wait for another process's write to finish


def checksum(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def entry_key(expert_index: int, side: str, max_length: int, text: str) -> str:
    digest = hashlib.blake2b(f"{expert_index}\x1f{side}\x1f{max_length}\x1f".encode(), digest_size=20)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """True for a damaged file; False for a busy or locked database, a read-only folder, a
    full disk and the like (sqlite3.OperationalError), which say nothing about the file."""
    return not isinstance(error, sqlite3.OperationalError)


class EmbeddingCache:
    """Vectors of one model (by content fingerprint), stored as float32 blobs."""

    def __init__(self, fingerprint: str, root: Path | None = None, timeout: float = BUSY_TIMEOUT):
        self.path = (root or cache_dir()) / "embeddings" / f"{fingerprint}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._disabled = False

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, "
                               "dim INTEGER, data BLOB, checksum BLOB, truncated INTEGER)")
        except BaseException:
            connection.close()
            raise
        return connection

    def _connect(self) -> sqlite3.Connection | None:
        if self._connection is not None or self._disabled:
            return self._connection
        for attempt in range(2):
            try:
                self._connection = self._open()
                return self._connection
            except sqlite3.DatabaseError as error:
                if not is_damage(error):
                    warnings.warn(f"embedding cache {self.path} not available now ({error}); "
                                  "computing without it this time", stacklevel=3)
                    return None  # the next call tries again
                if attempt == 0:
                    aside = self.path.with_suffix(f".corrupt-{int(time.time())}")
                    warnings.warn(f"embedding cache {self.path} is damaged ({error}); moved to "
                                  f"{aside.name} and started anew", stacklevel=3)
                    self.path.rename(aside)
                    for suffix in ("-wal", "-shm"):
                        Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                else:
                    warnings.warn(f"embedding cache disabled: {error}", stacklevel=3)
                    self._disabled = True
        return None

    def get_entries(self, keys: list[str], dim: int) -> dict[str, tuple[np.ndarray, bool]]:
        """(vector, cut at the max length) found for `keys`; entries of the wrong size or
        checksum are treated as missing."""
        found: dict[str, tuple[np.ndarray, bool]] = {}
        with self._lock:
            connection = self._connect()
            if connection is None:
                return found
            unique = list(dict.fromkeys(keys))
            try:
                for start in range(0, len(unique), 500):
                    chunk = unique[start:start + 500]
                    rows = connection.execute(
                        f"SELECT key, dim, data, checksum, truncated FROM vectors WHERE key IN "
                        f"({','.join('?' * len(chunk))})", chunk).fetchall()
                    for key, stored_dim, data, stored_sum, truncated in rows:
                        if (stored_dim == dim and isinstance(data, bytes) and len(data) == 4 * dim
                                and stored_sum == checksum(data)):
                            found[key] = (np.frombuffer(data, dtype=np.float32), bool(truncated))
            except sqlite3.DatabaseError as error:
                warnings.warn(f"embedding cache read failed ({error}); recomputing", stacklevel=2)
        return found

    def get_many(self, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        """Vectors found for `keys`; entries of the wrong size are treated as missing."""
        return {key: vector for key, (vector, _) in self.get_entries(keys, dim).items()}

    def put_many(self, items: dict[str, np.ndarray], truncated: set[str] | None = None) -> None:
        """Store vectors by key in one transaction; `truncated`: the keys whose text was cut."""
        if not items:
            return
        truncated = truncated or set()
        with self._lock:
            connection = self._connect()
            if connection is None:
                return
            rows = []
            for key, vector in items.items():
                data = np.ascontiguousarray(vector, np.float32).tobytes()
                rows.append((key, int(vector.shape[0]), data, checksum(data), int(key in truncated)))
            try:
                with connection:
                    connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)",
                                           rows)
            except sqlite3.DatabaseError as error:
                warnings.warn(f"embedding cache write failed ({error}); continuing without it", stacklevel=2)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
