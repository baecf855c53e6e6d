"""Fine-tuning end to end: make the base a MoE, gather pairs, train, return the model."""
from __future__ import annotations

from dataclasses import replace

from scimult_app.corpus.documents import Document
from scimult_app.engine.checkpoint import CheckpointContents, build_model
from scimult_app.engine.experts import EXPERT_NAMES
from scimult_app.engine.loading import LoadedModel, fingerprint
from scimult_app.training.export import released_model_dict
from scimult_app.training.moe import moe_params, to_moe
from scimult_app.training.pairs import Pair, classification_pairs, link_pairs, search_pairs, title_pairs
from scimult_app.training.trainer import TrainConfig, TrainResult, check_pairs, train


def architecture_of(base: LoadedModel) -> dict:
    """The base's activation and LayerNorm eps, so a rebuilt copy computes the same thing."""
    return {"hidden_act": base.config.hidden_act, "layer_norm_eps": base.config.layer_norm_eps}


def as_moe(base: LoadedModel, num_experts: int = 3, moe_type: str = "mod2:attn") -> LoadedModel:
    """A copy of a dense model whose chosen sublayers hold `num_experts` identical experts."""
    params = moe_params(base.encoder_params, num_experts, moe_type)
    contents = CheckpointContents(base.source, "scimult", params,
                                  to_moe(released_model_dict(base), num_experts, moe_type))
    model, shared = build_model(contents, base.config.num_heads, architecture_of(base))
    notes = [f"made a {num_experts}-expert MoE ({moe_type}) from {base.name}"]
    return replace(base, encoder_params=params, model=model, shared=shared, notes=notes,
                   fingerprint=fingerprint(model, base.tokenizer, base.mean_pool, base.max_length))


def training_pairs(papers: list[Document], labels: list | None = None,
                   queries: list[dict] | None = None, tasks: tuple[str, ...] = EXPERT_NAMES,
                   title_queries: bool = True) -> dict[str, list[Pair]]:
    """Pairs for each requested task; a task with nothing to learn from is a clear error."""
    pairs: dict[str, list[Pair]] = {}
    if "classification" in tasks:
        pairs["classification"] = classification_pairs(papers, labels or [])
    if "link" in tasks:
        pairs["link"] = link_pairs(papers)
    if "search" in tasks:
        pairs["search"] = search_pairs(queries or [], papers)
        if title_queries:
            pairs["search"] += title_pairs(papers)
    return check_pairs(pairs)


def fine_tune(base: LoadedModel, pairs: dict[str, list[Pair]], config: TrainConfig,
              num_experts: int = 3, moe_type: str = "mod2:attn",
              progress=None, **options) -> tuple[LoadedModel, TrainResult]:
    """Train a copy of `base` (made MoE first if dense and num_experts > 1).

    `options` go to `trainer.train`: device, should_stop, state_file, save_every."""
    if num_experts > 1 and not base.is_moe:
        model = as_moe(base, num_experts, moe_type)
    else:
        model = replace(base, model=build_model(
            CheckpointContents(base.source, "scimult", base.encoder_params,
                               released_model_dict(base)), base.config.num_heads,
            architecture_of(base))[0])
    result = train(model, pairs, config, progress, **options)
    model.fingerprint = fingerprint(model.model, model.tokenizer, model.mean_pool, model.max_length)
    return model, result
