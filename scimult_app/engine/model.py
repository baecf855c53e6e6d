"""SciMult's encoder in plain PyTorch: post-LayerNorm BERT with optional task-expert sublayers.

Module attribute names mirror the released checkpoint keys, so a `model_dict` loads with no
renaming table: `question_model.encoder.embeddings.word_embeddings.weight`,
`ctx_model.encoder.encoder.layer.3.attention.self.moe_query.1.weight`, and so on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"  # a key of ACTIVATIONS
    num_experts: int = 1
    attention_expert_layers: tuple[int, ...] = field(default_factory=tuple)
    feedforward_expert_layers: tuple[int, ...] = field(default_factory=tuple)
    hidden_dropout: float = 0.0  # BERT's hidden_dropout_prob; active in train mode only
    attention_dropout: float = 0.0  # BERT's attention_probs_dropout_prob; train mode only


class Dropout(nn.Module):
    """Inverted dropout drawing its masks from `generator` (set by the trainer, one per task),
    so training never touches torch's global random state. Identity in eval mode."""

    def __init__(self, probability: float):
        super().__init__()
        self.probability = probability
        self.generator: torch.Generator | None = None

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if not self.training or self.probability <= 0:
            return values
        keep = 1.0 - self.probability
        mask = torch.empty_like(values).bernoulli_(keep, generator=self.generator)
        return values * mask / keep


def set_dropout_generator(module: nn.Module, generator: torch.Generator | None) -> None:
    """Make every dropout of `module` draw from `generator` (None: torch's global RNG)."""
    for child in module.modules():
        if isinstance(child, Dropout):
            child.generator = generator


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


# Hugging Face `hidden_act` names -> the function (gelu is exact, erf-based, as BERT's)
ACTIVATIONS = {"gelu": F.gelu, "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh,
               "relu": F.relu, "silu": F.silu, "swish": F.silu}


def _linears(count: int, n_in: int, n_out: int) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(n_in, n_out) for _ in range(count))


def _embedding(rows: int, size: int) -> nn.Embedding:
    """An uninitialised table (the checkpoint fills it): a random init on the meta device
    would import torch's compiler stack, about a second of start-up."""
    return nn.Embedding(rows, size, _weight=torch.empty(rows, size))


class Embeddings(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.word_embeddings = _embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = _embedding(config.max_positions, config.hidden_size)
        self.token_type_embeddings = _embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # input_ids (B, T) -> hidden (B, T, H)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (T,)
        # token_type_ids are all zero in SciMult, so row 0 is added to every token
        hidden = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
                  + self.token_type_embeddings.weight[0])
        return self.dropout(self.LayerNorm(hidden))


class SelfAttention(nn.Module):
    """Query/key/value projections: one set, or one per expert (`moe_query.<e>` ...)."""

    def __init__(self, config: EncoderConfig, experts: int):
        super().__init__()
        self.num_heads = config.num_heads
        self.dropout = Dropout(config.attention_dropout)
        size = config.hidden_size
        if experts > 1:
            self.moe_query = _linears(experts, size, size)
            self.moe_key = _linears(experts, size, size)
            self.moe_value = _linears(experts, size, size)
        else:
            self.query = nn.Linear(size, size)
            self.key = nn.Linear(size, size)
            self.value = nn.Linear(size, size)

    def projections(self, expert: int) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
        if hasattr(self, "moe_query"):
            return self.moe_query[expert], self.moe_key[expert], self.moe_value[expert]
        return self.query, self.key, self.value

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, expert: int,
                first_only: bool = False) -> torch.Tensor:
        """Attention output for every position, or only for position 0 ([CLS]) when
        `first_only` (its keys and values still come from every position)."""
        batch, length, size = hidden.shape  # (B, T, H)
        query, key, value = self.projections(expert)
        rows = hidden[:, :1] if first_only else hidden  # (B, R, H), R = 1 or T
        # query (B, heads, R, H / heads); key, value (B, heads, T, H / heads)
        heads = [proj(source).view(batch, source.shape[1], self.num_heads, -1).transpose(1, 2)
                 for proj, source in ((query, rows), (key, hidden), (value, hidden))]
        if self.training and self.dropout.probability > 0:
            context = self._with_dropout(*heads, mask)
        else:
            # softmax(q k^T / sqrt(H / heads) + mask) v; mask (B, 1, 1, T) hides padding keys
            context = F.scaled_dot_product_attention(*heads, attn_mask=mask)  # (B, heads, R, H / heads)
        return context.transpose(1, 2).reshape(batch, rows.shape[1], size)  # (B, R, H)

    def _with_dropout(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
        """Attention spelled out, so BERT's dropout on the attention probabilities can draw
        from the task's generator (training only; inference uses the fused kernel)."""
        logits = query @ key.transpose(-1, -2) / query.shape[-1] ** 0.5  # (B, heads, T, T)
        logits = logits.masked_fill(~mask, float("-inf"))
        return self.dropout(logits.softmax(dim=-1)) @ value  # (B, heads, T, H / heads)


class AttentionOutput(nn.Module):
    """Output projection (shared or per expert, `moe_dense.<e>`), residual, shared LayerNorm."""

    def __init__(self, config: EncoderConfig, experts: int):
        super().__init__()
        size = config.hidden_size
        if experts > 1:
            self.moe_dense = _linears(experts, size, size)
        else:
            self.dense = nn.Linear(size, size)
        self.LayerNorm = nn.LayerNorm(size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(self, context: torch.Tensor, residual: torch.Tensor, expert: int) -> torch.Tensor:
        dense = self.moe_dense[expert] if hasattr(self, "moe_dense") else self.dense
        return self.LayerNorm(self.dropout(dense(context)) + residual)  # post-LayerNorm: (B, T, H)


class Attention(nn.Module):
    def __init__(self, config: EncoderConfig, experts: int):
        super().__init__()
        self.self = SelfAttention(config, experts)
        self.output = AttentionOutput(config, experts)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, expert: int,
                first_only: bool = False) -> torch.Tensor:
        residual = hidden[:, :1] if first_only else hidden
        return self.output(self.self(hidden, mask, expert, first_only), residual, expert)


class Intermediate(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACTIVATIONS[config.hidden_act]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden))  # (B, T, H) -> (B, T, intermediate)


class Output(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(self, intermediate: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        # (B, T, intermediate) -> (B, T, H)
        return self.LayerNorm(self.dropout(self.dense(intermediate)) + residual)


class FeedForwardExperts(nn.Module):
    """One feed-forward block per expert (`moe_layer.interm_layers.<e>`, `output_layers.<e>`)."""

    def __init__(self, config: EncoderConfig, experts: int):
        super().__init__()
        self.interm_layers = nn.ModuleList(Intermediate(config) for _ in range(experts))
        self.output_layers = nn.ModuleList(Output(config) for _ in range(experts))

    def forward(self, hidden: torch.Tensor, expert: int) -> torch.Tensor:
        return self.output_layers[expert](self.interm_layers[expert](hidden), hidden)


class Layer(nn.Module):
    def __init__(self, config: EncoderConfig, index: int):
        super().__init__()
        attention_experts = config.num_experts if index in config.attention_expert_layers else 1
        self.attention = Attention(config, attention_experts)
        if index in config.feedforward_expert_layers:
            self.moe_layer = FeedForwardExperts(config, config.num_experts)
        else:
            self.intermediate = Intermediate(config)
            self.output = Output(config)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, expert: int,
                first_only: bool = False) -> torch.Tensor:
        hidden = self.attention(hidden, mask, expert, first_only)
        if hasattr(self, "moe_layer"):
            return self.moe_layer(hidden, expert)
        return self.output(self.intermediate(hidden), hidden)


class LayerStack(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(config, index) for index in range(config.num_layers))


class Transformer(nn.Module):
    """BERT body: embeddings then the layer stack; returns the last hidden states."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = LayerStack(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                expert: int = 0, first_only: bool = False) -> torch.Tensor:
        """Last hidden states (batch, length, hidden). With `first_only`, only position 0
        ([CLS]) of the last layer is computed, shape (batch, 1, hidden): the same [CLS] vector
        for a fraction of the last layer's cost (its other positions feed nothing)."""
        if not 0 <= expert < self.config.num_experts:
            raise ValueError(f"expert index {expert} out of range for "
                             f"{self.config.num_experts} expert(s)")
        # attention_mask (B, T), 1 on real tokens -> boolean (B, 1, 1, T): True where a key
        # may be attended to, broadcast over heads and query positions
        mask = attention_mask.bool()[:, None, None, :]
        hidden = self.embeddings(input_ids)  # (B, T, H)
        last = len(self.encoder.layer) - 1
        for index, layer in enumerate(self.encoder.layer):
            hidden = layer(hidden, mask, expert, first_only and index == last)
        return hidden


class Tower(nn.Module):
    """One side of the bi-encoder (`question_model` or `ctx_model`); holds `.encoder`."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.encoder = Transformer(config)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mean_pool: bool) -> torch.Tensor:
    """SciMult's representation: [CLS] state, or the masked mean L2-normalised."""
    # hidden (B, T, H), attention_mask (B, T) -> (B, H)
    if not mean_pool:
        return hidden[:, 0]  # the [CLS] position
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1): 0 on padding
    summed = (hidden * weights).sum(dim=1) / weights.sum(dim=1)  # (B, H) mean over real tokens
    return F.normalize(summed, p=2, dim=-1)


class BiEncoder(nn.Module):
    """Query tower and candidate tower; with a shared encoder both names hold one module."""

    def __init__(self, question_config: EncoderConfig, ctx_config: EncoderConfig | None = None):
        super().__init__()
        self.question_model = Tower(question_config)
        self.ctx_model = self.question_model if ctx_config is None else Tower(ctx_config)

    @property
    def shared(self) -> bool:
        return self.ctx_model is self.question_model

    def tower(self, side: str) -> Transformer:
        return (self.question_model if side == "query" else self.ctx_model).encoder
