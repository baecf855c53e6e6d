"""Uploaded files saved to disk by their content, copied in chunks, never over each other.

Streamlit holds a whole upload in the server's memory; saving copies it to disk 16 MB at a
time (no second full copy in memory), and the app then reads the file from disk. The memory
an upload takes is bounded by `server.maxUploadSize` in `.streamlit/config.toml`.

Each upload is written to its own temporary file while its hash is computed, then renamed to
`uploads/<hash>/<file name>`: the same bytes land in the same place, different bytes with the
same name never share a path, and two sessions never write the same temporary file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from scimult_app.paths import cache_dir

CHUNK = 16 * 1024 * 1024


def save_upload(stream: BinaryIO, filename: str, folder: Path | None = None) -> Path:
    """Stream `stream` to a content-addressed path under `folder` (default: the cache's uploads)."""
    folder = folder or cache_dir() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.blake2b(digest_size=16)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            if hasattr(stream, "seek"):
                stream.seek(0)
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        target = folder / digest.hexdigest() / (Path(filename).name or "upload")
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
        return target
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
