"""Load a model by path or built-in name: checkpoint + tokenizer + what was detected."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scimult_app.engine.checkpoint import (
    CheckpointContents,
    build_model,
    read_huggingface_folder,
    read_scimult_checkpoint,
)
from scimult_app.engine.experts import EXPERTS, get_expert
from scimult_app.engine.model import BiEncoder, EncoderConfig
from scimult_app.engine.tokenizer import Tokenizer, resolve_tokenizer
from scimult_app.errors import ScimultError

MAX_LENGTH = 512


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


def fingerprint(model: BiEncoder, tokenizer: Tokenizer, mean_pool: bool) -> str:
    """Content hash of the weights, vocabulary and pooling: what decides the embeddings."""
    digest = hashlib.blake2b(digest_size=20)
    for name, tensor in model.named_parameters():
        digest.update(name.encode())
        digest.update(memoryview(np.ascontiguousarray(tensor.detach().cpu().numpy())).cast("B"))
    digest.update(Path(tokenizer.vocab_file).read_bytes())
    digest.update(f"lower={tokenizer.lowercase};mean={mean_pool}".encode())
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
    contents = read_contents(path)
    params = contents.encoder_params
    word_rows = next((t.shape[0] for k, t in contents.model_dict.items()
                      if k.endswith("embeddings.word_embeddings.weight")), 0)
    tokenizer_obj = resolve_tokenizer(tokenizer, params.get("pretrained_model_cfg"), path, word_rows)
    heads = contents.heads_from_folder or tokenizer_obj.num_attention_heads
    heads_from = "config.json" if heads else "head size 64 convention"
    model, shared = build_model(contents, heads)
    mean_pool = bool(params.get("mean_pool"))
    max_length = min(int(params.get("max_length") or MAX_LENGTH),
                     model.question_model.encoder.config.max_positions)
    notes = list(contents.notes)
    if not model.question_model.encoder.config.num_experts > 1:
        notes.append("single-expert model: search, link and classification select the same encoder")
    return LoadedModel(
        name=name or path.name, source=path, format=contents.format, encoder_params=params,
        model=model, tokenizer=tokenizer_obj, shared=shared, mean_pool=mean_pool,
        max_length=max_length, heads_from=heads_from,
        fingerprint=fingerprint(model, tokenizer_obj, mean_pool), notes=notes)
