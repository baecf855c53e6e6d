"""SciMult's recipe: multi-task contrastive fine-tuning, each task through its own expert.

Each task gives (query, positive) pairs: classification paper -> label text
(`name [SEP] definition`), link prediction citing -> cited paper, search query -> relevant
paper. A batch's queries go through the query tower, its positives (and hard negatives)
through the candidate tower, both under the task's expert; the loss is cross-entropy of the
model's own score (dot product, or scaled cosine for mean-pooled models) against in-batch
negatives, with other known positives of the same query masked out.

Batches are task-homogeneous, as in SciMult's training: one expert id then applies to the
whole batch (the model routes a batch through one expert), each step updates exactly one
task's expert, and in-batch negatives are candidates of the same kind (labels against labels,
papers against papers), which is what the task's ranking will face.
"""
from __future__ import annotations

import random
import resource
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from scimult_app.engine.embedder import configure_threads, pad_batch
from scimult_app.engine.experts import EXPERT_NAMES
from scimult_app.engine.loading import LoadedModel
from scimult_app.engine.model import pool
from scimult_app.errors import InputError
from scimult_app.training.pairs import Pair

COSINE_SCALE = 20.0  # logits = 20 * cosine for mean-pooled (cosine-scored) models


@dataclass
class TrainConfig:
    steps: int = 120
    batch_size: int = 16
    learning_rate: float = 3e-4
    max_length: int = 128
    seed: int = 0
    train_shared: bool = False  # False: only the expert sublayers learn (MoE models)


@dataclass
class TrainResult:
    losses: list[tuple[int, str, float]] = field(default_factory=list)
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    max_length: int = 0  # tokens a training text was cut at
    truncated_pairs: dict[str, int] = field(default_factory=dict)  # task -> pairs with a cut text
    pair_counts: dict[str, int] = field(default_factory=dict)  # task -> pairs

    def truncation_note(self) -> str:
        """One line saying how many pairs had a text cut, per task, and at what length."""
        parts = [f"{task} {self.truncated_pairs.get(task, 0)} of {count}"
                 for task, count in self.pair_counts.items()]
        return (f"pairs with a text cut at {self.max_length} tokens: " + ", ".join(parts)
                if parts else "no training pairs")

    def mean_loss(self, task: str, first: bool) -> float:
        values = [loss for _, t, loss in self.losses if t == task]
        half = max(1, len(values) // 3)
        chosen = values[:half] if first else values[-half:]
        return sum(chosen) / len(chosen)


def check_pairs(pairs: dict[str, list[Pair]]) -> dict[str, list[Pair]]:
    for task, task_pairs in pairs.items():
        if task not in EXPERT_NAMES:
            raise InputError(f"unknown task {task!r}; tasks are {', '.join(EXPERT_NAMES)}")
        if not task_pairs:
            raise InputError(f"no training pairs for the {task} task. Give "
                             + {"search": "queries with relevant paper ids",
                                "link": "papers whose 'cites' name other papers of the corpus",
                                "classification": "papers whose labels exist in the label set"}[task]
                             + ", or leave the task out.")
    if not pairs:
        raise InputError("no training pairs at all: give labels, citations or queries.")
    return pairs


def truncated_pairs(tokenizer, pairs: dict[str, list[Pair]], max_length: int) -> dict[str, int]:
    """task -> how many pairs have a query, positive or negative longer than `max_length`
    tokens (counted without tokenizing past the limit)."""
    texts = list(dict.fromkeys(text for task_pairs in pairs.values() for pair in task_pairs
                               for text in (pair.query, pair.positive, *pair.negatives)))
    counts = tokenizer.count_tokens(texts, limit=max_length) if texts else []
    cut = {text for text, count in zip(texts, counts) if count > max_length}
    return {task: sum(1 for pair in task_pairs
                      if pair.query in cut or pair.positive in cut
                      or any(text in cut for text in pair.negatives))
            for task, task_pairs in pairs.items()}


def trainable_parameters(loaded: LoadedModel, train_shared: bool) -> list[torch.nn.Parameter]:
    """Expert sublayers only (`moe_*`), unless the model is dense or train_shared is set."""
    params = []
    for name, parameter in loaded.model.named_parameters():
        learn = train_shared or not loaded.is_moe or ".moe_" in name
        parameter.requires_grad_(learn)
        if learn:
            params.append(parameter)
    return params


def _batches(pairs: dict[str, list[Pair]], batch_size: int, seed: int):
    """Endless task-homogeneous batches, tasks in turn, each task reshuffled every epoch.

    Each task draws from its own random stream, so its batches do not depend on which other
    tasks are trained.
    """
    rngs = {task: random.Random(f"{seed}:{task}") for task in pairs}
    queues = {task: [] for task in pairs}
    while True:
        for task, task_pairs in pairs.items():
            batch: list[Pair] = []
            while len(batch) < min(batch_size, len(task_pairs)):
                if not queues[task]:
                    queues[task] = rngs[task].sample(task_pairs, len(task_pairs))
                batch.append(queues[task].pop())
            yield task, batch


def contrastive_loss(query_vectors: torch.Tensor, candidate_vectors: torch.Tensor,
                     targets: torch.Tensor, false_negatives: torch.Tensor, cosine: bool) -> torch.Tensor:
    """Cross-entropy over candidates; `false_negatives` marks other true positives to ignore."""
    if cosine:
        logits = COSINE_SCALE * F.normalize(query_vectors, dim=-1) @ F.normalize(candidate_vectors, dim=-1).T
    else:
        logits = query_vectors @ candidate_vectors.T
    logits = logits.masked_fill(false_negatives, float("-inf"))
    return F.cross_entropy(logits, targets)


def _encode(loaded: LoadedModel, texts: list[str], side: str, expert: int,
            max_length: int, device: torch.device) -> torch.Tensor:
    ids, _ = loaded.tokenizer.encode(texts, max_length)
    input_ids, mask = pad_batch(ids, loaded.tokenizer.pad_id, device)
    hidden = loaded.model.tower(side)(input_ids, mask, expert)
    return pool(hidden, mask, loaded.mean_pool)


def known_positives(task_pairs: list[Pair]) -> dict[str, set[str]]:
    """Each query text's positives, masked out when they appear as another row's candidate.

    Where a text is on both sides (link: a paper cites and is cited), the relation counts both
    ways: under a shared tower a citer scores like the paper it cites, so it is no negative for
    that paper either.
    """
    queries = {pair.query for pair in task_pairs}
    positives: dict[str, set[str]] = {}
    for pair in task_pairs:
        positives.setdefault(pair.query, set()).add(pair.positive)
        if pair.positive in queries:
            positives.setdefault(pair.positive, set()).add(pair.query)
    return positives


def _step_tensors(batch: list[Pair], positives_of: dict[str, set[str]]):
    candidates = list(dict.fromkeys([p.positive for p in batch]
                                    + [n for p in batch for n in p.negatives]))
    index = {text: i for i, text in enumerate(candidates)}
    targets = torch.tensor([index[p.positive] for p in batch])
    false_negatives = torch.zeros((len(batch), len(candidates)), dtype=torch.bool)
    for row, pair in enumerate(batch):
        for text in positives_of[pair.query]:
            if text in index and index[text] != targets[row]:
                false_negatives[row, index[text]] = True
    return candidates, targets, false_negatives


def train(loaded: LoadedModel, pairs: dict[str, list[Pair]], config: TrainConfig,
          progress: Callable[[int, int, str, float], None] | None = None,
          device: str = "cpu") -> TrainResult:
    """Fine-tune `loaded.model` in place; returns the loss curve, time and peak memory."""
    check_pairs(pairs)
    configure_threads()
    model = loaded.model.to(device)
    params = trainable_parameters(loaded, config.train_shared)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, config.steps // 10))
        * max(0.0, 1 - step / config.steps))
    positives_of = {task: known_positives(task_pairs) for task, task_pairs in pairs.items()}
    result = TrainResult(max_length=config.max_length,
                         truncated_pairs=truncated_pairs(loaded.tokenizer, pairs, config.max_length),
                         pair_counts={task: len(task_pairs) for task, task_pairs in pairs.items()})
    started = time.perf_counter()
    model.train()
    batches = _batches(pairs, config.batch_size, config.seed)
    task_steps = dict.fromkeys(pairs, 0)
    for step in range(config.steps):
        task, batch = next(batches)
        task_steps[task] += 1  # dropout masks, like batches, from the task's own stream
        torch.manual_seed(zlib.crc32(f"{config.seed}:{task}:{task_steps[task]}".encode()))
        expert = loaded.expert_index(task)
        candidates, targets, false_negatives = _step_tensors(batch, positives_of[task])
        queries = _encode(loaded, [p.query for p in batch], "query", expert, config.max_length, device)
        keys = _encode(loaded, candidates, "candidate", expert, config.max_length, device)
        loss = contrastive_loss(queries, keys, targets.to(device), false_negatives.to(device),
                                loaded.mean_pool)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        result.losses.append((step, task, loss.item()))
        if progress:
            progress(step + 1, config.steps, task, loss.item())
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    result.seconds = time.perf_counter() - started
    result.peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result
