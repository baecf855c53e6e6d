"""Tiny SciMult checkpoints built from transformers' BertModel, independently of scimult_app.

A checkpoint is written in the released layout: `torch.save` of a dict with model_dict,
optimizer_dict, scheduler_dict, offset, epoch and encoder_params; tensors under
`question_model.encoder.` and `ctx_model.encoder.`, pooler.* kept, a top-level `linear.weight`.
Expert e's sublayers at the MoE layers come from `experts[e]`, a BertModel that shares every
other weight with `experts[0]`, so our expert e must reproduce BertModel_e exactly.
"""
from __future__ import annotations

import copy
import pickletools
import re
import zipfile
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "scimult_moe_attn_tiny"
TOKENIZER = FIXTURE / "tokenizer"
VOCAB = 6532  # rows of the fixture tokenizer's vocab.txt
QUERY_PREFIX = "question_model.encoder."
CANDIDATE_PREFIX = "ctx_model.encoder."
PUBMEDBERT = "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract"

# BertModel sublayer -> SciMult expert name (format with e = expert index)
ATTENTION_SLOTS = {
    "attention.self.query": "attention.self.moe_query.{e}",
    "attention.self.key": "attention.self.moe_key.{e}",
    "attention.self.value": "attention.self.moe_value.{e}",
    "attention.output.dense": "attention.output.moe_dense.{e}",
}
FEEDFORWARD_SLOTS = {
    "intermediate.dense": "moe_layer.interm_layers.{e}.dense",
    "output.dense": "moe_layer.output_layers.{e}.dense",
    "output.LayerNorm": "moe_layer.output_layers.{e}.LayerNorm",
}
_LAYER_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)")

TEXTS = [
    "Heart failure with preserved ejection fraction",
    "x",
    "Graph neural networks for molecular property prediction [SEP] We propose a message "
    "passing architecture that learns representations of molecules.",
    "A 54-year-old woman presents with progressive dyspnea and bilateral leg edema.",
    "Ünïcödé tèxt — with accents, CRISPR-Cas9 and 12.5 mg/kg dosing",
    "tumour " * 600,  # over 512 tokens
]


def expert_layers(moe_type: str, num_layers: int) -> list[int]:
    """The reference rule: which 0-based layers hold experts for `moe_type`'s first part."""
    rule = moe_type.split(":")[0]
    if rule == "ge6mod3":
        return [L for L in range(num_layers) if L + 1 >= 6 and (L + 1) % 3 == 0]
    if rule == "le7mod3":
        return [L for L in range(num_layers) if L <= 6 and L % 3 == 0]
    k = int(rule.removeprefix("mod"))
    return [L for L in range(num_layers) if (L + 1) % k == 0]


def expert_parts(moe_type: str) -> tuple[bool, bool]:
    """(attention experts, feed-forward experts) from `moe_type`'s second part."""
    part = moe_type.split(":")[1]
    return "attn" in part, "fwd" in part


def _randomize(parameter: torch.Tensor, name: str, generator: torch.Generator) -> None:
    noise = torch.randn(parameter.shape, generator=generator)
    if name.endswith("LayerNorm.weight"):
        parameter.copy_(1 + 0.2 * noise)
    else:
        parameter.copy_(0.2 * noise)


def random_bert(seed: int, layers: int = 2, hidden: int = 32, heads: int = 4,
                intermediate: int = 64, vocab: int = VOCAB) -> BertModel:
    """A BertModel with every weight drawn at random (std 0.2), in eval mode."""
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate,
                        hidden_act="gelu", layer_norm_eps=1e-12, max_position_embeddings=512,
                        type_vocab_size=2)
    model = BertModel(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            _randomize(parameter, name, generator)
    return model.eval()


def expert_models(base: BertModel, count: int, layers: list[int], attention: bool,
                  feedforward: bool, seed: int = 100) -> list[BertModel]:
    """`count` BertModels: the base, then copies whose expert sublayers are re-drawn."""
    slots = {**(ATTENTION_SLOTS if attention else {}), **(FEEDFORWARD_SLOTS if feedforward else {})}
    models = [base]
    for e in range(1, count):
        model = copy.deepcopy(base)
        generator = torch.Generator().manual_seed(seed + e)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                match = _LAYER_KEY.fullmatch(name)
                if match and int(match[1]) in layers and match[2] in slots:
                    _randomize(parameter, name, generator)
        models.append(model.eval())
    return models


def tower_dict(experts: list[BertModel], moe_type: str | None = None) -> dict[str, torch.Tensor]:
    """SciMult names under one prefix; the expert slots of MoE layers come from each expert."""
    states = [model.state_dict() for model in experts]
    layers = expert_layers(moe_type, experts[0].config.num_hidden_layers) if moe_type else []
    attention, feedforward = expert_parts(moe_type) if moe_type else (False, False)
    slots = {**(ATTENTION_SLOTS if attention else {}), **(FEEDFORWARD_SLOTS if feedforward else {})}
    out = {}
    for key, value in states[0].items():
        match = _LAYER_KEY.fullmatch(key)
        if match and int(match[1]) in layers and match[2] in slots:
            for e, state in enumerate(states):
                name = slots[match[2]].format(e=e)
                out[f"encoder.layer.{match[1]}.{name}.{match[3]}"] = state[key].clone()
        else:
            out[key] = value.clone()
    return out


def encoder_params(**overrides) -> dict:
    """SciMult's encoder_params with the released checkpoints' keys; overrides win."""
    params = {
        "encoder_model_type": "hf_any", "pretrained_model_cfg": PUBMEDBERT,
        "pretrained_file": None, "projection_dim": 0, "mean_pool": False,
        "mean_pool_ctx_only": False, "factor_rep": False, "shared_encoder": True,
        "sequence_length": 256, "dropout": 0.1, "fix_ctx_encoder": False, "use_title": True,
        "use_moe": False, "num_expert": 1, "use_infer_expert": False, "per_layer_gating": False,
        "moe_type": None, "pretrained": True, "q_rep_method": "start_end_concat",
        "task_header_type": None, "use_norm_rep": False,
    }
    params.update(overrides)
    return params


def checkpoint_dict(query: dict[str, torch.Tensor], candidate: dict[str, torch.Tensor] | None,
                    params: dict, position_ids: bool = True, dictconfig: bool = False,
                    extra: dict[str, torch.Tensor] | None = None) -> dict:
    """The released file's top-level dict around two towers (the same one twice if shared)."""
    model_dict = {}
    for prefix, tower in ((QUERY_PREFIX, query), (CANDIDATE_PREFIX, candidate or query)):
        for key, value in tower.items():
            model_dict[prefix + key] = value.clone()
        if position_ids:
            model_dict[prefix + "embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    hidden = query["embeddings.word_embeddings.weight"].shape[1]
    model_dict["linear.weight"] = torch.randn(8, hidden)
    model_dict.update(extra or {})
    if dictconfig:
        from omegaconf import OmegaConf
        params = OmegaConf.create(params)
    step = torch.tensor(7.0)
    return {
        "model_dict": model_dict,
        "optimizer_dict": {"state": {0: {"step": step, "exp_avg": torch.zeros(3),
                                         "exp_avg_sq": torch.zeros(3)}},
                           "param_groups": [{"lr": 2e-5, "betas": (0.9, 0.999), "eps": 1e-8,
                                             "weight_decay": 0.0, "params": [0]}]},
        "scheduler_dict": {"base_lrs": [2e-5], "last_epoch": 7, "_step_count": 8,
                           "_last_lr": [1.9e-5]},
        "offset": 0,
        "epoch": 3,
        "encoder_params": params,
    }


def save(path: Path, checkpoint: dict, cuda: bool = False) -> Path:
    torch.save(checkpoint, path)
    if cuda:
        tag_cuda(path)
    return path


CPU_TAG = b"X\x03\x00\x00\x00cpu"  # BINUNICODE 'cpu', the storage location in data.pkl
CUDA_TAG = b"X\x06\x00\x00\x00cuda:0"


def tag_cuda(path: Path) -> int:
    """Rewrite a torch.save zip so every storage reads as saved on cuda:0; returns how many."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for info, data in entries:
            if info.filename.endswith("/data.pkl"):
                count = data.count(CPU_TAG)
                data = data.replace(CPU_TAG, CUDA_TAG)
            archive.writestr(info, data)
    return count


def storage_locations(path: Path) -> list[str]:
    """The location strings of a torch.save zip's data.pkl, read without unpickling."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        data = archive.read(name)
    strings = [arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)]
    return [s for s in strings if s == "cpu" or s.startswith("cuda")]


def write_variant(path: Path, moe_type: str | None, num_experts: int = 3, layers: int = 6,
                  seed: int = 0, **options) -> list[BertModel]:
    """A shared-encoder checkpoint (vanilla if moe_type is None); returns BertModel per expert."""
    base = random_bert(seed, layers=layers)
    if moe_type:
        attention, feedforward = expert_parts(moe_type)
        models = expert_models(base, num_experts, expert_layers(moe_type, layers),
                               attention, feedforward, seed=seed + 100)
        params = encoder_params(use_moe=True, num_expert=num_experts, moe_type=moe_type)
    else:
        models, params = [base], encoder_params()
    params.update(options.pop("params", {}))
    cuda = options.pop("cuda", False)
    save(path, checkpoint_dict(tower_dict(models, moe_type), None, params, **options), cuda)
    return models


_HF_TOKENIZERS: dict[str, BertTokenizerFast] = {}


def hf_tokenizer(folder: Path = TOKENIZER) -> BertTokenizerFast:
    key = str(folder)
    if key not in _HF_TOKENIZERS:
        _HF_TOKENIZERS[key] = BertTokenizerFast(str(Path(folder) / "vocab.txt"), do_lower_case=True)
    return _HF_TOKENIZERS[key]


@torch.inference_mode()
def bert_embeddings(model: BertModel, texts: list[str], mean_pool: bool = False,
                    folder: Path = TOKENIZER, max_length: int = 512) -> np.ndarray:
    """transformers' reference: [CLS] of last_hidden_state (or masked mean, L2-normalised)."""
    batch = hf_tokenizer(folder)(texts, padding=True, truncation=True, max_length=max_length,
                                 return_tensors="pt")
    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=torch.zeros_like(batch["input_ids"])).last_hidden_state
    if not mean_pool:
        return hidden[:, 0].numpy()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()
