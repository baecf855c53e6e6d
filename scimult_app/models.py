"""A model name or path in, a loaded model out: the built-ins by name, anything else by path.

The CLI and the app both open models here, so `engine` never needs to know the built-ins.
"""
from __future__ import annotations

from pathlib import Path

from scimult_app import builtin
from scimult_app.engine.loading import LoadedModel, load_model
from scimult_app.errors import ScimultError


def open_model(source: str | Path | None = None, tokenizer: str | Path | None = None,
               progress=None) -> LoadedModel:
    """Load a built-in by name (building it on first use), a checkpoint file or a folder."""
    source = str(source) if source else builtin.DEFAULT
    if source in builtin.NAMES:
        path, builtin_tokenizer = builtin.ensure(source, progress)
        return load_model(path, tokenizer or builtin_tokenizer, name=source)
    if not Path(source).expanduser().exists():
        raise ScimultError(f"{source}: no such file or folder. Give a SciMult .ckpt file, a "
                           f"Hugging Face BERT folder, or a built-in name "
                           f"({', '.join(builtin.NAMES)}).")
    return load_model(source, tokenizer)


def default_model() -> str:
    """The model a new session starts on: `demo` once it is built, `minilm` meanwhile."""
    return "demo" if builtin.is_built("demo") else "minilm"
