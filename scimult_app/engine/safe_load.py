"""Read a `.ckpt` / `.bin` pickle without ever running code from it.

`torch.load(weights_only=True)` only rebuilds tensors and plain containers. Released
SciMult checkpoints also hold an OmegaConf `DictConfig` (Hydra training code); its classes
are replaced by inert stand-ins that merely record their state, which `to_plain` turns into
plain dicts. Any other global is refused: there is no fallback to full unpickling.
"""
from __future__ import annotations

import collections
import io
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from scimult_app.errors import CheckpointError, UnsafeCheckpointError


class _Recorded:
    """Stand-in for an OmegaConf class: keeps the pickled state, runs nothing."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _DictConfig(_Recorded):
    pass


class _ListConfig(_Recorded):
    pass


class _ValueNode(_Recorded):
    pass


class _Metadata(_Recorded):
    pass


class _TypingAny:
    pass


_NODE_NAMES = ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode",
               "BytesNode", "PathNode", "EnumNode", "ValueNode")

STAND_INS = [
    (_DictConfig, "omegaconf.dictconfig.DictConfig"),
    (_ListConfig, "omegaconf.listconfig.ListConfig"),
    (_Metadata, "omegaconf.base.Metadata"),
    (_Metadata, "omegaconf.base.ContainerMetadata"),
    (_TypingAny, "typing.Any"),
    *[(_ValueNode, f"omegaconf.nodes.{name}") for name in _NODE_NAMES],
]
# Harmless globals a Hydra config's metadata names as types (never called with data).
SAFE_GLOBALS = [dict, list, str, int, float, bool, collections.defaultdict,
                collections.OrderedDict]


def to_plain(value: Any) -> Any:
    """Turn recorded OmegaConf containers into plain dicts / lists, recursively."""
    if isinstance(value, _DictConfig):
        content = (value.state or {}).get("_content") or {}
        return {key: to_plain(item) for key, item in content.items()}
    if isinstance(value, _ListConfig):
        content = (value.state or {}).get("_content") or []
        return [to_plain(item) for item in content]
    if isinstance(value, _ValueNode):
        return to_plain((getattr(value, "state", None) or {}).get("_val"))
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(item) for item in value)
    return value


def _global_named_in(message: str) -> str | None:
    match = re.search(r"GLOBAL ([\w.]+)", message) or re.search(r"global ([\w.]+)", message)
    return match.group(1) if match else None


# what torch's weights-only unpickler accepts besides torch.* (to name the global it refused)
_ALLOWED_NAMES = {name for _, name in STAND_INS} | {
    f"{kind.__module__}.{kind.__qualname__}" for kind in SAFE_GLOBALS} | {
    "_codecs.encode", "builtins.set", "builtins.bytearray", "builtins.tuple",
    "builtins.complex", "builtins.slice", "collections.Counter"}
_PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_DOTTED = re.compile(r"[A-Za-z_][\w.]*")


class _Found(Exception):
    pass


class _GlobalFinder(pickle.Unpickler):
    """Walks a pickle with inert stand-ins for every global; stops at the first disallowed one."""

    def find_class(self, module: str, name: str) -> type:
        module = _PYTHON2_MODULES.get(module, module)  # torch.save writes protocol 2
        full = f"{module}.{name}"
        if full not in _ALLOWED_NAMES and not full.startswith("torch."):
            raise _Found(full)
        return _Recorded

    def persistent_load(self, pid: Any) -> None:
        return None


def _pickle_stream(path: Path) -> io.BufferedIOBase:
    """The pickle part of a checkpoint: data.pkl of a zip file (small), else the file itself."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            return io.BytesIO(archive.read(name) if name else b"")
    return open(path, "rb")


def _offending_global(path: Path) -> str | None:
    """The first global the file would import that a checkpoint never needs (nothing is run)."""
    try:
        with _pickle_stream(path) as stream:
            finder = _GlobalFinder(stream)
            for _ in range(8):  # the legacy format is a few pickles in a row
                finder.load()
    except _Found as found:
        name = str(found)
        return name if _DOTTED.fullmatch(name) else None
    except Exception:  # noqa: BLE001 - damaged data or the end of the pickles: nothing found
        return None
    return None


def load_pickle(path: str | Path) -> Any:
    """Load a torch-saved pickle onto the CPU, weights only. Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file. Check the path, or give a built-in "
                              "model name such as 'minilm'.")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes). The download or upload did not "
                              "finish: fetch the checkpoint again.")
    use_mmap = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals(STAND_INS + SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as error:
        message = str(error)
        name = _offending_global(path) or _global_named_in(message)
        if name:
            raise UnsafeCheckpointError(
                f"{path} was refused: loading it would call `{name}`, which a SciMult "
                "checkpoint never contains, so the file could run code on this machine. "
                "Only weights-only checkpoints are read. If you made this file yourself, "
                "re-save it with torch.save({'model_dict': ..., 'encoder_params': {...}}) "
                "using plain dicts and tensors.") from None
        raise _not_a_checkpoint(path, size, message) from None
    except (KeyError, IndexError) as error:  # a memo lookup in bytes that are not a pickle
        raise _not_a_checkpoint(path, size, f"unreadable data: {type(error).__name__}") from None
    except (RuntimeError, EOFError, ValueError, OSError, TypeError, AttributeError,
            struct.error, MemoryError, OverflowError, RecursionError) as error:
        # damaged bytes make the unpickler fail in many ways (struct.error: a number cut short)
        raise _not_a_checkpoint(path, size, str(error) or type(error).__name__) from None


def _not_a_checkpoint(path: Path, size: int, message: str) -> CheckpointError:
    detail = re.split(r"(?<=[.:]) ", message.strip() or "unreadable")[0].rstrip(".:")[:160]
    if any(word in message for word in ("central directory", "truncated", "EOF", "Ran out")):
        return CheckpointError(
            f"{path} is truncated or damaged ({size:,} bytes; {detail}). The download or "
            "upload was probably cut short: fetch the checkpoint again.")
    return CheckpointError(
        f"{path} is not a PyTorch checkpoint ({detail}). Give a SciMult `.ckpt` file (for "
        "example scimult_moe.ckpt), a Hugging Face BERT folder, or a built-in model name.")
