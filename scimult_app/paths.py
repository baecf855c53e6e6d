"""Where the app keeps what it computes (SCIMULT_APP_CACHE, else $XDG_CACHE_HOME/scimult_app,
else ~/.cache/scimult_app), and whether server paths may be given at all.

SCIMULT_APP_ALLOW_PATHS=0 is for a shared deployment: models and tokenizers may then only come
from the app's own folders (uploads, trained models, built-ins), never from a path a visitor
types, which would let anyone read any file the server can.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("SCIMULT_APP_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(base) / "scimult_app"
    root.mkdir(parents=True, exist_ok=True)
    return root


ALLOW_PATHS = "SCIMULT_APP_ALLOW_PATHS"
APP_FOLDERS = ("uploads", "trained", "builtin")  # what the app itself writes under the cache


def paths_allowed() -> bool:
    """False when SCIMULT_APP_ALLOW_PATHS is 0 (or false, no, off)."""
    return os.environ.get(ALLOW_PATHS, "1").strip().lower() not in ("0", "false", "no", "off")


def is_app_file(path: str | Path) -> bool:
    """Inside one of the app's own folders (symbolic links and `..` resolved first)."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved.is_relative_to((cache_dir() / folder).resolve()) for folder in APP_FOLDERS)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
