"""Write a model as a checkpoint in the released SciMult format."""
from __future__ import annotations

from pathlib import Path

import torch

from scimult_app.engine.checkpoint import CANDIDATE_PREFIX, QUERY_PREFIX, save_checkpoint
from scimult_app.engine.loading import LoadedModel


def released_model_dict(loaded: LoadedModel) -> dict[str, torch.Tensor]:
    """Both towers' tensors under their prefixes, plus the buffers and pooler the original
    code's strict `load_state_dict` expects (unused for embeddings)."""
    model_dict: dict[str, torch.Tensor] = {}
    for side, prefix in (("query", QUERY_PREFIX), ("candidate", CANDIDATE_PREFIX)):
        encoder = loaded.model.tower(side)
        config = encoder.config
        for key, tensor in encoder.state_dict().items():
            model_dict[prefix + key] = tensor.detach().cpu().clone()
        model_dict[prefix + "embeddings.position_ids"] = torch.arange(config.max_positions)[None]
        model_dict[prefix + "pooler.dense.weight"] = torch.eye(config.hidden_size)
        model_dict[prefix + "pooler.dense.bias"] = torch.zeros(config.hidden_size)
    return model_dict


def save_model(loaded: LoadedModel, path: Path, encoder_params: dict | None = None) -> None:
    params = dict(encoder_params or loaded.encoder_params)
    params["shared_encoder"] = loaded.shared
    save_checkpoint(path, released_model_dict(loaded), params)
