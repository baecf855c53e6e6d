"""Content fingerprints of files and folders: size, mtime and a streamed hash.

A file is hashed once per version: the result is remembered under (path, size, mtime_ns,
inode), so asking again is a `stat`, while a rewrite (a new upload or a retrained model under
the same name) changes at least one of them and is hashed afresh. Two files with the same
bytes get the same fingerprint wherever they lie.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

CHUNK = 4 * 1024 * 1024
MEMO_SIZE = 512  # file versions remembered
_memo: OrderedDict[tuple, str] = OrderedDict()
_lock = threading.Lock()


def _stream_hash(path: Path, size: int) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"size={size};".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """Hex digest of a file's bytes, computed once per (path, size, mtime_ns, inode)."""
    path = Path(path).expanduser().absolute()
    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    with _lock:
        if version in _memo:
            _memo.move_to_end(version)
            return _memo[version]
    value = _stream_hash(path, stat.st_size)
    with _lock:
        _memo[version] = value
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return value


def folder_fingerprint(folder: str | Path) -> str:
    """Hex digest over every file of a folder (names and contents; hidden entries skipped)."""
    folder = Path(folder).expanduser().absolute()
    digest = hashlib.blake2b(digest_size=20)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(root) / name
            digest.update(f"{path.relative_to(folder).as_posix()}\x1f".encode())
            digest.update(file_fingerprint(path).encode())
    return digest.hexdigest()


def path_fingerprint(path: str | Path) -> str:
    """`folder_fingerprint` for a folder, `file_fingerprint` for anything else."""
    return folder_fingerprint(path) if Path(path).expanduser().is_dir() else file_fingerprint(path)
