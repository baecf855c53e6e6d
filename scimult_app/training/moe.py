"""Turn a dense checkpoint into a Mixture-of-Experts one, the way SciMult initialises its MoE.

Every expert of a MoE sublayer starts as a copy of the dense sublayer it replaces; the layer
layout comes from a `moe_type` string such as `mod2:attn` (layer L is MoE when (L+1) % 2 == 0),
`mod3:fwd`, `mod2:attn_fwd`, `ge6mod3:attn` or `le7mod3:attn`.
"""
from __future__ import annotations

import re

import torch

from scimult_app.errors import ScimultError

DEFAULT_LAYOUT = "mod2:attn"

_RULES = {
    "ge6mod3": lambda layer: layer + 1 >= 6 and (layer + 1) % 3 == 0,
    "le7mod3": lambda layer: layer <= 6 and layer % 3 == 0,
}
_ATTENTION = {"attention.self.query": "attention.self.moe_query",
              "attention.self.key": "attention.self.moe_key",
              "attention.self.value": "attention.self.moe_value",
              "attention.output.dense": "attention.output.moe_dense"}
_FEEDFORWARD = {"intermediate.dense": "moe_layer.interm_layers.{e}.dense",
                "output.dense": "moe_layer.output_layers.{e}.dense",
                "output.LayerNorm": "moe_layer.output_layers.{e}.LayerNorm"}


def parse_layout(moe_type: str, num_layers: int) -> tuple[list[int], bool, bool]:
    """MoE layer indices and whether attention / feed-forward sublayers get experts."""
    rule, _, parts = moe_type.partition(":")
    if rule in _RULES:
        is_moe = _RULES[rule]
    elif match := re.fullmatch(r"mod(\d+)", rule):
        step = int(match.group(1))
        is_moe = lambda layer: (layer + 1) % step == 0  # noqa: E731
    else:
        raise ScimultError(f"unknown MoE layout {moe_type!r}: use modK:attn, modK:fwd, "
                           "modK:attn_fwd, ge6mod3:... or le7mod3:...")
    attention, feedforward = "attn" in parts, "fwd" in parts
    if not (attention or feedforward):
        raise ScimultError(f"MoE layout {moe_type!r} names no sublayer: add :attn, :fwd or :attn_fwd")
    layers = [layer for layer in range(num_layers) if is_moe(layer)]
    if not layers:
        raise ScimultError(f"MoE layout {moe_type!r} selects no layer of a {num_layers}-layer model")
    return layers, attention, feedforward


def to_moe(model_dict: dict[str, torch.Tensor], num_experts: int = 3,
           moe_type: str = DEFAULT_LAYOUT) -> dict[str, torch.Tensor]:
    """A new state dict in which the chosen sublayers hold `num_experts` copies each."""
    if num_experts < 2:
        raise ScimultError("a MoE model needs at least 2 experts")
    if any(".moe_" in key or ".moe_layer." in key for key in model_dict):
        raise ScimultError("the model already has expert sublayers; start from a dense model")
    layer_ids = {int(m.group(1)) for key in model_dict
                 if (m := re.search(r"\.encoder\.layer\.(\d+)\.", key))}
    layers, attention, feedforward = parse_layout(moe_type, max(layer_ids) + 1)
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in model_dict.items():
        match = re.match(r"(.*\.encoder\.layer\.(\d+)\.)(.*)\.(weight|bias)$", key)
        if not match or int(match.group(2)) not in layers:
            converted[key] = tensor
            continue
        stem, _, sublayer, kind = match.groups()
        if attention and sublayer in _ATTENTION:
            for expert in range(num_experts):
                converted[f"{stem}{_ATTENTION[sublayer]}.{expert}.{kind}"] = tensor.clone()
        elif feedforward and sublayer in _FEEDFORWARD:
            for expert in range(num_experts):
                converted[f"{stem}{_FEEDFORWARD[sublayer].format(e=expert)}.{kind}"] = tensor.clone()
        else:
            converted[key] = tensor
    return converted


def moe_params(params: dict, num_experts: int, moe_type: str) -> dict:
    """encoder_params of the converted model, as the original training code writes them."""
    return {**params, "use_moe": True, "num_expert": num_experts, "moe_type": moe_type,
            "use_infer_expert": False, "per_layer_gating": False}
