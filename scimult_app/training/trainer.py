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

BERT's dropout (the checkpoint's probabilities) is on while training; each task draws its batch
order from its own `random.Random` and its dropout masks from its own `torch.Generator`, so
adding a task does not change another's expert and torch's global random state, shared with
every other thread of the process, is never touched.
"""
from __future__ import annotations

import hashlib
import io
import random
import resource
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from scimult_app.engine.embedder import configure_threads, pad_batch, pick_device
from scimult_app.engine.experts import EXPERT_NAMES
from scimult_app.engine.loading import LoadedModel
from scimult_app.engine.model import pool, set_dropout_generator
from scimult_app.errors import InputError, ScimultError
from scimult_app.paths import atomic_write_bytes
from scimult_app.training.pairs import Pair
from scimult_app.training.stopping import SHUTDOWN, training_loop

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


class BatchStream:
    """Endless task-homogeneous batches, tasks in turn, each task reshuffled every epoch.

    Each task draws from its own random stream, so its batches do not depend on which other
    tasks are trained; the stream's state can be saved and restored to resume a run.
    """

    def __init__(self, pairs: dict[str, list[Pair]], batch_size: int, seed: int) -> None:
        self.pairs, self.batch_size = pairs, batch_size
        self.rngs = {task: random.Random(f"{seed}:{task}") for task in pairs}
        self.queues: dict[str, list[int]] = {task: [] for task in pairs}
        self.turn = 0

    def next(self) -> tuple[str, list[Pair]]:
        task = list(self.pairs)[self.turn % len(self.pairs)]
        self.turn += 1
        task_pairs = self.pairs[task]
        batch: list[Pair] = []
        while len(batch) < min(self.batch_size, len(task_pairs)):
            if not self.queues[task]:
                self.queues[task] = self.rngs[task].sample(range(len(task_pairs)), len(task_pairs))
            batch.append(task_pairs[self.queues[task].pop()])
        return task, batch

    def state(self) -> dict:
        return {"turn": self.turn, "queues": {t: list(q) for t, q in self.queues.items()},
                "rngs": {t: rng.getstate() for t, rng in self.rngs.items()}}

    def restore(self, state: dict) -> None:
        self.turn = state["turn"]
        self.queues = {t: list(q) for t, q in state["queues"].items()}
        for task, rng_state in state["rngs"].items():
            self.rngs[task].setstate(rng_state)


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


class TrainingStopped(ScimultError):
    """Training was asked to stop (Cancel, or the process exiting) at a step boundary."""


def _generators(pairs: dict[str, list[Pair]], seed: int, device: torch.device) -> dict:
    """One dropout generator per task, so a task's masks do not depend on the other tasks and
    torch's global random state (shared with the app's other threads) is never touched."""
    return {task: torch.Generator(device=device).manual_seed(zlib.crc32(f"{seed}:{task}".encode()))
            for task in pairs}


def run_key(loaded: LoadedModel, pairs: dict[str, list[Pair]], config: TrainConfig) -> str:
    """What a saved training state is only valid for: the base model, the pairs, the config."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{loaded.fingerprint}|{sorted(asdict(config).items())}".encode())
    for task, task_pairs in pairs.items():
        for pair in task_pairs:
            digest.update("\x1f".join((task, pair.query, pair.positive, *pair.negatives)).encode())
    return digest.hexdigest()


def train(loaded: LoadedModel, pairs: dict[str, list[Pair]], config: TrainConfig,
          progress: Callable[[int, int, str, float], None] | None = None,
          device: str = "cpu", should_stop: Callable[[], bool] | None = None,
          state_file: Path | None = None, save_every: int = 40) -> TrainResult:
    """Fine-tune `loaded.model` in place; returns the loss curve, time and peak memory.

    Before each step the loop stops (raising TrainingStopped) when `should_stop()` says so or
    the process is exiting. With `state_file`, the run's state (trainable weights, optimizer,
    schedule, batch streams, dropout generators) is saved there every `save_every` steps and
    when stopped, and a later call with the same model, pairs and config resumes from it.
    """
    check_pairs(pairs)
    configure_threads()
    torch_device = pick_device(device)
    model = loaded.model.to(torch_device)
    params = trainable_parameters(loaded, config.train_shared)
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(1, config.steps // 10))
        * max(0.0, 1 - step / config.steps))
    positives_of = {task: known_positives(task_pairs) for task, task_pairs in pairs.items()}
    batches = BatchStream(pairs, config.batch_size, config.seed)
    generators = _generators(pairs, config.seed, torch_device)
    result = TrainResult(max_length=config.max_length,
                         truncated_pairs=truncated_pairs(loaded.tokenizer, pairs, config.max_length),
                         pair_counts={task: len(task_pairs) for task, task_pairs in pairs.items()})
    key = run_key(loaded, pairs, config) if state_file else ""
    first = 0
    if state_file:
        first, result.losses = resume_state(state_file, key, loaded, optimizer, schedule,
                                            batches, generators)
    started = time.perf_counter()
    model.train()
    try:
        with training_loop():
            for step in range(first, config.steps):
                if SHUTDOWN.is_set() or (should_stop is not None and should_stop()):
                    if state_file:
                        save_state(state_file, key, step, loaded, optimizer, schedule, batches,
                                   generators, result.losses)
                    raise TrainingStopped(f"training stopped at step {step} of {config.steps}"
                                          + (f"; it resumes from {state_file}" if state_file else ""))
                task, batch = batches.next()
                set_dropout_generator(model, generators[task])
                loss = _step(loaded, task, batch, positives_of[task], config, torch_device, optimizer)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                result.losses.append((step, task, loss))
                if state_file and (step + 1) % save_every == 0 and step + 1 < config.steps:
                    save_state(state_file, key, step + 1, loaded, optimizer, schedule, batches,
                               generators, result.losses)
                if progress:
                    progress(step + 1, config.steps, task, loss)
    finally:
        set_dropout_generator(model, None)
        model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
    result.seconds = time.perf_counter() - started
    result.peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _step(loaded: LoadedModel, task: str, batch: list[Pair], positives_of: dict[str, set[str]],
          config: TrainConfig, device: torch.device, optimizer) -> float:
    """Forward and backward of one task-homogeneous batch; returns the loss."""
    expert = loaded.expert_index(task)
    candidates, targets, false_negatives = _step_tensors(batch, positives_of)
    queries = _encode(loaded, [p.query for p in batch], "query", expert, config.max_length, device)
    keys = _encode(loaded, candidates, "candidate", expert, config.max_length, device)
    loss = contrastive_loss(queries, keys, targets.to(device), false_negatives.to(device),
                            loaded.mean_pool)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    return loss.item()


def save_state(path: Path, key: str, step: int, loaded: LoadedModel, optimizer, schedule,
               batches: BatchStream, generators: dict, losses: list) -> None:
    """Everything a resumed run needs, written atomically."""
    trainable = {name: p.detach().cpu().clone() for name, p in loaded.model.named_parameters()
                 if p.requires_grad}
    buffer = io.BytesIO()
    torch.save({"key": key, "step": step, "trainable": trainable,
                "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "batches": batches.state(), "losses": list(losses),
                "generators": {t: g.get_state() for t, g in generators.items()}}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def resume_state(path: Path, key: str, loaded: LoadedModel, optimizer, schedule,
                 batches: BatchStream, generators: dict) -> tuple[int, list]:
    """Restore a saved run into these objects; (first step, losses so far), or (0, []) when
    there is no state for this run (another model, other pairs or config, an unreadable file)."""
    path = Path(path)
    if not path.is_file():
        return 0, []
    try:
        state = torch.load(path, weights_only=True)
    except Exception:  # a half-written or foreign file: start afresh, it is rewritten
        return 0, []
    if not isinstance(state, dict) or state.get("key") != key:
        return 0, []
    parameters = dict(loaded.model.named_parameters())
    with torch.no_grad():
        for name, tensor in state["trainable"].items():
            parameters[name].copy_(tensor)
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    batches.restore(state["batches"])
    for task, generator_state in state["generators"].items():
        generators[task].set_state(generator_state)
    return int(state["step"]), [tuple(entry) for entry in state["losses"]]
