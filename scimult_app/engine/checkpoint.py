"""From a state dict to a SciMult bi-encoder: read sizes and expert layout off the tensors.

Two sources: the released `.ckpt` (keys under `question_model.encoder.` / `ctx_model.encoder.`)
and a Hugging Face BERT folder, which becomes a single-expert model with a shared encoder.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from scimult_app.engine.model import ACTIVATIONS, BiEncoder, EncoderConfig
from scimult_app.engine.safe_load import load_pickle, to_plain
from scimult_app.errors import CheckpointError
from scimult_app.paths import atomic_write_bytes

QUERY_PREFIX = "question_model.encoder."
CANDIDATE_PREFIX = "ctx_model.encoder."
HEAD_SIZE_CONVENTION = 64
# the files of a Hugging Face folder that decide its vectors (besides the tokenizer's)
HF_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin",
                  "1_Pooling/config.json", "sentence_bert_config.json")
BERT_DROPOUT = 0.1  # BertConfig's hidden_dropout_prob and attention_probs_dropout_prob
_LAYER = re.compile(r"encoder\.layer\.(\d+)\.")
_EXPERT = re.compile(r"(?:moe_query|interm_layers)\.(\d+)\.")


@dataclass
class CheckpointContents:
    """What a checkpoint file holds, before the tokenizer is attached."""
    path: Path
    format: str  # "scimult" or "huggingface"
    encoder_params: dict[str, Any]
    model_dict: dict[str, torch.Tensor]
    heads_from_folder: int | None = None  # a HF folder's own config.json
    notes: list[str] = field(default_factory=list)
    model_config: dict[str, Any] = field(default_factory=dict)  # a HF folder's config.json


def architecture_settings(config: dict[str, Any], where: str) -> dict[str, Any]:
    """`hidden_act` and `layer_norm_eps` of a Hugging Face config.json, checked; BERT's
    defaults where absent. Anything the encoder cannot reproduce is refused with a message."""
    activation = config.get("hidden_act", "gelu")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise CheckpointError(
            f"{where}: hidden_act {activation!r} is not supported (supported: "
            f"{', '.join(ACTIVATIONS)}). Check the config.json, or use a BERT backbone.")
    position = config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise CheckpointError(
            f"{where}: position_embedding_type {position!r} is not supported; only BERT's "
            "absolute position embeddings (as in every SciMult checkpoint) are. Relative "
            "position embeddings would give wrong vectors, so the model is refused.")
    eps = config.get("layer_norm_eps", 1e-12)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
        raise CheckpointError(f"{where}: layer_norm_eps {eps!r} is not a small positive number. "
                              "Fix the config.json.")
    return {"hidden_act": activation, "layer_norm_eps": float(eps)}


def _ignorable(key: str) -> bool:
    """Tensors the reference inference never uses."""
    if not key.startswith((QUERY_PREFIX, CANDIDATE_PREFIX)):
        return True  # top-level extras such as linear.weight
    return ".pooler." in key or key.endswith("embeddings.position_ids")


def read_scimult_checkpoint(path: Path) -> CheckpointContents:
    data = load_pickle(path)
    if not isinstance(data, dict) or "model_dict" not in data:
        found = ", ".join(map(str, list(data)[:6])) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path} is a PyTorch file but not a SciMult checkpoint: it has no 'model_dict' "
            f"(found: {found}). Give one of the released .ckpt files, or a Hugging Face BERT "
            "folder (config.json + weights).")
    params = to_plain(data.get("encoder_params") or {})
    if not isinstance(params, dict):
        raise CheckpointError(f"{path}: 'encoder_params' is a {type(params).__name__}, "
                              "expected a mapping. The file was not written by SciMult.")
    model_dict = data["model_dict"]
    if not isinstance(model_dict, dict) or not all(
            isinstance(value, torch.Tensor) for value in model_dict.values()):
        raise CheckpointError(f"{path}: 'model_dict' is not a mapping of names to tensors.")
    return CheckpointContents(path, "scimult", params, model_dict)


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path} cannot be read as JSON ({error}). Download the model "
                              "folder again.") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} is not a JSON object. Download the model folder again.")
    return value


def read_huggingface_folder(folder: Path) -> CheckpointContents:
    """A BERT folder (config.json, model.safetensors or pytorch_model.bin) as one shared encoder."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder} is a folder without config.json. Point at a Hugging "
                              "Face BERT folder (config.json, weights, vocab.txt) or a .ckpt file.")
    config = _json_object(config_file)
    if config.get("model_type", "bert") != "bert":
        raise CheckpointError(f"{folder}: model_type is {config.get('model_type')!r}; only BERT "
                              "encoders (the SciMult backbone) are supported.")
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file
        weights = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        weights = load_pickle(folder / "pytorch_model.bin")
    else:
        raise CheckpointError(f"{folder} has config.json but no model.safetensors or "
                              "pytorch_model.bin. Copy the weights file into the folder.")
    model_dict = {}
    for key, tensor in weights.items():
        key = key.removeprefix("bert.")
        if not key.startswith("cls."):
            model_dict[QUERY_PREFIX + key] = tensor
            model_dict[CANDIDATE_PREFIX + key] = tensor
    params: dict[str, Any] = {
        "pretrained_model_cfg": config.get("_name_or_path") or folder.name,
        "use_moe": False, "num_expert": 1, "shared_encoder": True, "projection_dim": 0,
        "mean_pool": False, "use_infer_expert": False,
        **{key: config[key] for key in ("hidden_dropout_prob", "attention_probs_dropout_prob")
           if key in config},
    }
    notes = ["Hugging Face BERT folder: one shared encoder, every expert name selects it."]
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file() and _json_object(pooling).get("pooling_mode_mean_tokens"):
        params["mean_pool"] = True
        notes.append("sentence-transformers folder: mean pooling, L2-normalised, cosine score.")
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        length = _json_object(st_config).get("max_seq_length", 512)
        if isinstance(length, bool) or not isinstance(length, int) or length < 2:
            raise CheckpointError(f"{st_config}: max_seq_length {length!r} is not a whole number "
                                  "of at least 2. Fix the file or remove it.")
        params["max_length"] = length
    return CheckpointContents(folder, "huggingface", params, model_dict,
                              heads_from_folder=config.get("num_attention_heads"), notes=notes,
                              model_config=config)


def _tower_tensors(model_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key[len(prefix):]: value for key, value in model_dict.items()
            if key.startswith(prefix) and not _ignorable(key)}


def infer_config(tensors: dict[str, torch.Tensor], num_heads: int | None,
                 where: str, architecture: dict[str, Any] | None = None) -> EncoderConfig:
    """Read every size but the head count off the tensor names and shapes; activation and
    LayerNorm eps come from `architecture` (see architecture_settings)."""
    try:
        vocab_size, hidden_size = tensors["embeddings.word_embeddings.weight"].shape
        max_positions = tensors["embeddings.position_embeddings.weight"].shape[0]
        type_vocab_size = tensors["embeddings.token_type_embeddings.weight"].shape[0]
    except KeyError as missing:
        raise CheckpointError(
            f"{where}: the state dict fits no SciMult layout: missing {missing.args[0]!r} under "
            "the encoder prefix. Is this a SciMult or BERT checkpoint?") from None
    layers = sorted({int(m.group(1)) for key in tensors if (m := _LAYER.match(key))})
    if not layers:
        raise CheckpointError(f"{where}: the state dict has embeddings but no "
                              "encoder.layer.N tensors; it fits no SciMult layout.")
    attention_layers, feedforward_layers, expert_counts = [], [], set()
    intermediate_size = None
    for index in layers:
        stem = f"encoder.layer.{index}."
        attention = [k for k in tensors if k.startswith(stem + "attention.self.moe_query.")
                     and k.endswith(".weight")]
        feedforward = [k for k in tensors if k.startswith(stem + "moe_layer.interm_layers.")
                       and k.endswith(".weight")]
        if attention:
            attention_layers.append(index)
            expert_counts.add(1 + max(int(_EXPERT.search(k).group(1)) for k in attention))
        if feedforward:
            feedforward_layers.append(index)
            expert_counts.add(1 + max(int(_EXPERT.search(k).group(1)) for k in feedforward))
        for key in (stem + "intermediate.dense.weight", stem + "moe_layer.interm_layers.0.dense.weight"):
            if key in tensors and intermediate_size is None:
                intermediate_size = tensors[key].shape[0]
    if len(expert_counts) > 1:
        raise CheckpointError(f"{where}: layers disagree on the number of experts "
                              f"({sorted(expert_counts)}); the file is not a SciMult checkpoint.")
    if intermediate_size is None:
        raise CheckpointError(f"{where}: no feed-forward weights found "
                              "(encoder.layer.N.intermediate.dense.weight); not a SciMult layout.")
    if num_heads is not None and (isinstance(num_heads, bool) or not isinstance(num_heads, int)
                                  or num_heads < 1):
        raise CheckpointError(f"{where}: num_attention_heads {num_heads!r} is not a positive "
                              "whole number; fix it in the tokenizer folder's config.json.")
    heads = num_heads or max(1, hidden_size // HEAD_SIZE_CONVENTION)
    if hidden_size % heads:
        raise CheckpointError(f"{where}: hidden size {hidden_size} is not divisible by "
                              f"{heads} attention heads; check num_attention_heads in the "
                              "tokenizer folder's config.json.")
    return EncoderConfig(
        vocab_size=vocab_size, hidden_size=hidden_size, num_layers=max(layers) + 1,
        num_heads=heads, intermediate_size=intermediate_size, max_positions=max_positions,
        type_vocab_size=type_vocab_size, num_experts=expert_counts.pop() if expert_counts else 1,
        attention_expert_layers=tuple(attention_layers),
        feedforward_expert_layers=tuple(feedforward_layers), **(architecture or {}))


def _towers_equal(query: dict[str, torch.Tensor], candidate: dict[str, torch.Tensor]) -> bool:
    return query.keys() == candidate.keys() and all(
        query[key].shape == candidate[key].shape and torch.equal(query[key], candidate[key])
        for key in query)


def _load_tower(tower: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str,
                prefix: str) -> None:
    expected = {prefix + key.removeprefix("encoder.") for key in tower.state_dict()}
    given = {prefix + key for key in tensors}
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"first missing key {missing[0]!r} ({len(missing)} missing)")
        if unexpected:
            parts.append(f"first unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)")
        raise CheckpointError(f"{where}: the state dict fits no SciMult layout: "
                              + "; ".join(parts) + ". Is this a SciMult or BERT checkpoint?")
    state = {"encoder." + key: value.detach().to(torch.float32).contiguous()
             for key, value in tensors.items()}
    tower.load_state_dict(state, strict=True, assign=True)


def dropout_probabilities(params: dict[str, Any], where: str) -> tuple[float, float]:
    """(hidden, attention) dropout for training, as SciMult's training code sets them.

    `hidden_dropout_prob` / `attention_probs_dropout_prob` (a Hugging Face config) win; else a
    non-zero `dropout` in encoder_params sets both (SciMult overrides the backbone's config
    only when it is non-zero); else the backbone's BERT default, 0.1. Inference never drops.
    """
    shared = params.get("dropout") or BERT_DROPOUT
    values = []
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
        value = params.get(key, shared)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise CheckpointError(f"{where}: {key} (or dropout) is {value!r}; a dropout "
                                  "probability must be a number in [0, 1). Fix the configuration.")
        values.append(float(value))
    return values[0], values[1]


def build_model(contents: CheckpointContents, num_heads: int | None,
                architecture: dict[str, Any] | None = None) -> tuple[BiEncoder, bool]:
    """Instantiate and load the bi-encoder; returns it and whether the towers are shared.
    `architecture`: hidden_act and layer_norm_eps (BERT's when None)."""
    where = str(contents.path)
    params = contents.encoder_params
    if params.get("use_infer_expert") or any(".expert_gate." in k for k in contents.model_dict):
        raise CheckpointError(
            f"{where} uses learned expert routing (use_infer_expert, expert_gate.* tensors), "
                "which no released SciMult checkpoint uses and this app does not support. Use "
            "scimult_moe.ckpt or a checkpoint trained with fixed task experts.")
    if params.get("projection_dim") not in (None, 0):
        raise CheckpointError(f"{where} has projection_dim={params['projection_dim']} (an extra "
                              "projection head); the released checkpoints use 0 and only that "
                              "is supported.")
    query = _tower_tensors(contents.model_dict, QUERY_PREFIX)
    candidate = _tower_tensors(contents.model_dict, CANDIDATE_PREFIX)
    if not query and not candidate:
        sample = ", ".join(list(contents.model_dict)[:3]) or "nothing"
        raise CheckpointError(
            f"{where}: the state dict fits no SciMult layout: no key starts with "
            f"{QUERY_PREFIX!r} or {CANDIDATE_PREFIX!r} (first keys: {sample}).")
    query = query or candidate
    candidate = candidate or query
    shared = bool(params.get("shared_encoder")) or _towers_equal(query, candidate)
    if params.get("shared_encoder"):
        # the reference loads both prefixes into one module: the ctx_model tensors land last
        query = candidate
    hidden_dropout, attention_dropout = dropout_probabilities(params, where)
    dropouts = {"hidden_dropout": hidden_dropout, "attention_dropout": attention_dropout}
    query_config = replace(infer_config(query, num_heads, where, architecture), **dropouts)
    candidate_config = None if shared else replace(
        infer_config(candidate, num_heads, where, architecture), **dropouts)
    with torch.device("meta"):
        model = BiEncoder(query_config, candidate_config)
    _load_tower(model.question_model, query, where,
                CANDIDATE_PREFIX if params.get("shared_encoder") else QUERY_PREFIX)
    if not shared:
        _load_tower(model.ctx_model, candidate, where, CANDIDATE_PREFIX)
    return model.eval(), shared


def save_checkpoint(path: Path, model_dict: dict[str, torch.Tensor], encoder_params: dict) -> None:
    """torch.save of the released layout: model_dict, optimizer/scheduler, offset, epoch, params."""
    buffer = io.BytesIO()
    torch.save({"model_dict": model_dict, "optimizer_dict": {}, "scheduler_dict": {},
                "offset": 0, "epoch": 0, "encoder_params": encoder_params}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
