"""A model name or path in, a loaded model out: the built-ins by name, anything else by path.

The CLI and the app both open models here, so `engine` never needs to know the built-ins.
"""
from __future__ import annotations

from pathlib import Path

from scimult_app import builtin
from scimult_app.engine.loading import (
    LoadedModel,
    load_model,
    tokenizer_fingerprint,
    weights_fingerprint,
)
from scimult_app.errors import ScimultError
from scimult_app.paths import ALLOW_PATHS, is_app_file, paths_allowed


def open_model(source: str | Path | None = None, tokenizer: str | Path | None = None,
               progress=None) -> LoadedModel:
    """Load a built-in by name (building it on first use), a checkpoint file or a folder.

    With SCIMULT_APP_ALLOW_PATHS=0 only built-ins and files in the app's own folders (uploads,
    trained models) are opened; any other path is refused."""
    source = str(source) if source else builtin.DEFAULT
    if source not in builtin.NAMES:
        check_path_allowed(source, "checkpoint")
    if tokenizer:
        check_path_allowed(tokenizer, "tokenizer's vocab.txt")
    if source in builtin.NAMES:
        path, builtin_tokenizer = builtin.ensure(source, progress)
        return load_model(path, tokenizer or builtin_tokenizer, name=source)
    if not Path(source).expanduser().exists():
        raise ScimultError(f"{source}: no such file or folder. Give a SciMult .ckpt file, a "
                           f"Hugging Face BERT folder, or a built-in name "
                           f"({', '.join(builtin.NAMES)}).")
    return load_model(source, tokenizer)


def model_key(source: str | Path | None = None, tokenizer: str | Path | None = None) -> tuple:
    """What a loaded model is, before loading it: the path and the content fingerprints of
    its weights and tokenizer files (each file hashed once per version). Key caches of loaded
    models on this, not on the path: a new upload or a retrained model under the same name
    gets a new key, the same file asked for again gets the same one."""
    source = str(source) if source else builtin.DEFAULT
    if source not in builtin.NAMES:
        check_path_allowed(source, "checkpoint")  # not even hashed when paths are off
    if tokenizer:
        check_path_allowed(tokenizer, "tokenizer's vocab.txt")
    if source in builtin.NAMES:
        if not builtin.is_built(source):
            return ("builtin", source, "not built yet")
        folder = builtin.folder(source)
        path, tokenizer = folder / "model.ckpt", tokenizer or folder / "tokenizer"
    else:
        path = Path(source).expanduser()
    if not path.exists():
        return ("missing", str(path))
    if tokenizer:
        tokenizer_part = tokenizer_fingerprint(tokenizer)
    elif path.is_dir():
        tokenizer_part = tokenizer_fingerprint(path)
    else:
        tokenizer_part = "found by the backbone name"
    return (str(path.absolute()), weights_fingerprint(path), tokenizer_part)


def check_path_allowed(path: str | Path, what: str) -> None:
    """Refuse a server path when paths are switched off, unless the app wrote the file."""
    if not paths_allowed() and not is_app_file(path):
        raise ScimultError(f"{path}: server paths are switched off on this server "
                           f"({ALLOW_PATHS}=0). Upload the {what} instead, or choose a built-in "
                           "model.")


def default_model() -> str:
    """The model a new session starts on: `demo` once it is built, `minilm` meanwhile."""
    return "demo" if builtin.is_built("demo") else "minilm"
