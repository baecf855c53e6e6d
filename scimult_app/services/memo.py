"""Vectors kept in memory across reruns and sessions, bounded by bytes (least recently used out)."""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_BYTES = 1 << 30  # 1 GiB of vectors shared by all sessions


class VectorMemo:
    """A byte-bounded LRU of float arrays; an array larger than the bound is not kept."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: np.ndarray) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if value.nbytes > self.max_bytes:
                return
            self._items[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes
            log.info("vector memo: %d arrays, %d of %d bytes", len(self._items), self._bytes,
                     self.max_bytes)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items


def texts_key(embedder, texts: list[str], expert: str, side: str) -> tuple:
    """What decides these vectors: the model's content, the expert, the side and the texts."""
    digest = hashlib.blake2b("\x1e".join(texts).encode(), digest_size=16).hexdigest()
    return (embedder.loaded.fingerprint, embedder.loaded.expert_index(expert), side, digest)


def embed_memoized(memo: VectorMemo, embedder, texts: list[str], expert: str, side: str,
                   progress=None):
    """(vectors, texts cut at the length limit or None when they came from memory)."""
    key = texts_key(embedder, texts, expert, side)
    vectors = memo.get(key)
    if vectors is not None:
        return vectors, None
    result = embedder.embed(texts, expert, side, progress=progress)
    memo.put(key, result.vectors)
    return result.vectors, result.truncated
