"""Load a model by path or built-in name: checkpoint + tokenizer + what was detected."""
from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scimult_app.engine.checkpoint import (
    HF_MODEL_FILES,
    CheckpointContents,
    architecture_settings,
    build_model,
    read_huggingface_folder,
    read_scimult_checkpoint,
)
from scimult_app.engine.experts import EXPERTS, get_expert
from scimult_app.engine.fingerprint import file_fingerprint
from scimult_app.engine.model import BiEncoder, EncoderConfig
from scimult_app.engine.tokenizer import TOKENIZER_FILES, Tokenizer, resolve_tokenizer
from scimult_app.errors import ScimultError

log = logging.getLogger(__name__)

MAX_LENGTH = 512
# Bump when anything that decides a cached vector changes outside the model's own settings
# (the forward pass, pooling, tokenization): every embedding cache then starts anew.
CACHE_FORMAT = 2
HEADS_ASSUMED = "assumed: head size 64 convention, no num_attention_heads in a config.json"


@dataclass
class LoadedModel:
    """A ready-to-run SciMult bi-encoder and everything known about it."""
    name: str
    source: Path
    format: str
    encoder_params: dict[str, Any]
    model: BiEncoder
    tokenizer: Tokenizer
    shared: bool
    mean_pool: bool
    max_length: int
    heads_from: str
    fingerprint: str
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> EncoderConfig:
        return self.model.question_model.encoder.config

    @property
    def num_experts(self) -> int:
        return self.config.num_experts

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    @property
    def score_function(self) -> str:
        return "cosine" if self.mean_pool else "dot"

    def expert_index(self, name: str) -> int:
        """Expert id for `name`; on a single-expert model every name selects the one encoder."""
        expert = get_expert(name)
        if not self.is_moe:
            return 0
        if expert.index >= self.num_experts:
            raise ScimultError(f"{self.name} has {self.num_experts} experts; "
                               f"expert {name!r} (id {expert.index}) does not exist in it.")
        return expert.index

    def summary(self) -> dict[str, Any]:
        """What was detected, for `info` and the sidebar."""
        config = self.config
        moe_parts = [part for part, layers in (("attention", config.attention_expert_layers),
                                               ("feed-forward", config.feedforward_expert_layers))
                     if layers]
        return {
            "model": self.name,
            "source": str(self.source),
            "format": self.format,
            "architecture": "MoE" if self.is_moe else "vanilla (single expert)",
            "experts": self.num_experts,
            "expert_names": [e.name for e in EXPERTS if e.index < self.num_experts] if self.is_moe
            else ["(one encoder for every expert name)"],
            "expert_layers": sorted(set(config.attention_expert_layers)
                                    | set(config.feedforward_expert_layers)),
            "expert_sublayers": moe_parts,
            "moe_type": self.encoder_params.get("moe_type"),
            "pooling": "mean, L2-normalised" if self.mean_pool else "[CLS]",
            "score": "cosine" if self.mean_pool else "dot product",
            "layers": config.num_layers,
            "hidden_size": config.hidden_size,
            "attention_heads": f"{config.num_heads} ({self.heads_from})",
            "intermediate_size": config.intermediate_size,
            "max_positions": config.max_positions,
            "vocab_size": config.vocab_size,
            "encoders": "shared query/candidate encoder" if self.shared
            else "separate query and candidate encoders",
            "backbone": self.encoder_params.get("pretrained_model_cfg"),
            "tokenizer": f"{self.tokenizer.vocab_file} ({self.tokenizer.found_by}; "
                         f"{'uncased' if self.tokenizer.lowercase else 'cased'}, "
                         f"{self.tokenizer.vocab_size} tokens)",
            "max_length": self.max_length,
            "fingerprint": self.fingerprint[:16],
            "notes": self.notes,
        }


def _settings_digest(digest, model: BiEncoder, tokenizer: Tokenizer, mean_pool: bool,
                     max_length: int | None) -> None:
    """Everything besides the weights that changes a vector: both towers' full configuration
    (sizes, heads, activation, LayerNorm eps, expert layout), the vocabulary and lowercasing,
    pooling, the default maximum length and the cache format."""
    towers = [asdict(model.tower(side).config) for side in ("query", "candidate")]
    digest.update(json.dumps({"towers": towers, "shared": model.shared, "lower": tokenizer.lowercase,
                              "mean_pool": mean_pool, "max_length": max_length,
                              "format": CACHE_FORMAT}, sort_keys=True).encode())
    digest.update(file_fingerprint(tokenizer.vocab_file).encode())


def fingerprint(model: BiEncoder, tokenizer: Tokenizer, mean_pool: bool,
                max_length: int | None = None) -> str:
    """Content hash of an in-memory model: its weights plus everything `_settings_digest`
    covers. Used for models changed in memory (training); loaded files use `load_model`'s
    cheaper file fingerprint."""
    digest = hashlib.blake2b(digest_size=20)
    for name, tensor in model.named_parameters():
        digest.update(name.encode())
        digest.update(memoryview(np.ascontiguousarray(tensor.detach().cpu().numpy())).cast("B"))
    _settings_digest(digest, model, tokenizer, mean_pool, max_length)
    return digest.hexdigest()


def weights_fingerprint(source: str | Path) -> str:
    """Content fingerprint of a checkpoint file, or of the files of a Hugging Face folder that
    decide its vectors (config, weights, pooling); other files of the folder are ignored."""
    path = Path(source).expanduser()
    if not path.is_dir():
        return file_fingerprint(path)
    digest = hashlib.blake2b(digest_size=20)
    for name in HF_MODEL_FILES:
        if (path / name).is_file():
            digest.update(f"{name}={file_fingerprint(path / name)};".encode())
    return digest.hexdigest()


def tokenizer_fingerprint(folder_or_vocab: str | Path) -> str:
    """Content fingerprint of a tokenizer folder's vocab.txt, config.json (head count,
    activation) and tokenizer_config.json (lowercasing); a vocab.txt path means its folder."""
    path = Path(folder_or_vocab).expanduser()
    folder = path.parent if path.is_file() else path
    digest = hashlib.blake2b(digest_size=20)
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            digest.update(f"{name}={file_fingerprint(folder / name)};".encode())
    return digest.hexdigest()


def source_fingerprint(source: Path, model: BiEncoder, tokenizer: Tokenizer, mean_pool: bool,
                       max_length: int | None) -> str:
    """Content hash of a model loaded from `source` (file or folder): the file's bytes
    (hashed once per file version) plus everything `_settings_digest` covers."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"source={weights_fingerprint(source)};".encode())
    _settings_digest(digest, model, tokenizer, mean_pool, max_length)
    return digest.hexdigest()


def read_contents(path: Path) -> CheckpointContents:
    if path.is_dir():
        return read_huggingface_folder(path)
    return read_scimult_checkpoint(path)


def load_model(source: str | Path, tokenizer: str | Path | None = None,
               name: str | None = None) -> LoadedModel:
    """Load a SciMult checkpoint file or a Hugging Face BERT folder (built-ins: `models`)."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ScimultError(f"{path}: no such file or folder. Give a SciMult .ckpt file or a "
                           "Hugging Face BERT folder.")
    # hash the weights while they are read and the model is built (hashlib releases the GIL);
    # the fingerprint below then finds the hash remembered
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(weights_fingerprint, path)
        loaded = _load(path, tokenizer, name)
        hashing.result()
    loaded.fingerprint = source_fingerprint(path, loaded.model, loaded.tokenizer,
                                            loaded.mean_pool, loaded.max_length)
    return loaded


def _load(path: Path, tokenizer: str | Path | None, name: str | None) -> LoadedModel:
    contents = read_contents(path)
    params = contents.encoder_params
    word_rows = next((t.shape[0] for k, t in contents.model_dict.items()
                      if k.endswith("embeddings.word_embeddings.weight")), 0)
    tokenizer_obj = resolve_tokenizer(tokenizer, params.get("pretrained_model_cfg"), path, word_rows)
    if contents.format == "huggingface":
        heads, model_config = contents.heads_from_folder, contents.model_config
        config_file = path / "config.json"
    else:
        heads, model_config = tokenizer_obj.num_attention_heads, tokenizer_obj.model_config
        config_file = tokenizer_obj.vocab_file.parent / "config.json"
    architecture = architecture_settings(model_config, str(config_file))
    model, shared = build_model(contents, heads, architecture)
    config = model.question_model.encoder.config
    notes = list(contents.notes)
    if heads:
        heads_from = "config.json"
    else:
        heads_from = HEADS_ASSUMED
        notes.append(f"attention heads: {config.num_heads} assumed (head size 64, BERT's "
                     f"convention); no num_attention_heads in {config_file}. If this model "
                     "uses another head count its vectors are wrong: give the backbone folder "
                     "with its config.json (--tokenizer FOLDER).")
    mean_pool = bool(params.get("mean_pool"))
    try:
        max_length = min(int(params.get("max_length") or MAX_LENGTH), config.max_positions)
    except (TypeError, ValueError):
        raise ScimultError(f"{path}: encoder_params max_length {params.get('max_length')!r} is "
                           "not a whole number. Fix or remove it.") from None
    if not model.question_model.encoder.config.num_experts > 1:
        notes.append("single-expert model: search, link and classification select the same encoder")
    log.info("loaded model %s from %s", name or path.name, path)
    return LoadedModel(
        name=name or path.name, source=path, format=contents.format, encoder_params=params,
        model=model, tokenizer=tokenizer_obj, shared=shared, mean_pool=mean_pool,
        max_length=max_length, heads_from=heads_from, fingerprint="", notes=notes)
