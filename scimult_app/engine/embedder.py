"""Texts in, float32 vectors out: length-sorted batches under a token budget, dynamic padding,
an on-disk cache."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from scimult_app.engine.cache import EmbeddingCache, entry_key
from scimult_app.engine.experts import check_side
from scimult_app.engine.loading import LoadedModel
from scimult_app.engine.model import pool

Progress = Callable[[int, int], None]

# Token budget per batch on CPU, as the float32 elements of the largest activation (the
# feed-forward intermediate, tokens x intermediate_size): 3 Mi elements = 12 MiB, i.e. 2048
# padded tokens for MiniLM, 1024 for BERT-base. Bigger batches are fresh mmaps that the kernel
# faults in and zeroes on every call and that spill out of cache: with 32 texts of ~280 tokens
# a batch, 1.25x (MiniLM) to 1.7x (BERT-base) slower on two cores (bench/embed_throughput.py).
ACTIVATION_BUDGET = 3 * 1024 * 1024

# Numeric precision of the forward pass. float32 reproduces the reference vectors; bfloat16
# runs the matrix products in bfloat16 (torch.autocast), about twice as fast on CPUs with
# AVX512-BF16 or AMX and on GPUs, at a small cost in agreement (cosine to the float32 vector
# above 0.9999 on the bench's checkpoints). Vectors of each precision are cached apart.
PRECISIONS = ("float32", "bfloat16")


def vectors_fingerprint(model_fingerprint: str, precision: str = "float32") -> str:
    """What made a set of vectors: the model's content fingerprint, plus the precision when it
    is not float32 (bfloat16 vectors differ slightly, so they are cached and stored apart)."""
    return model_fingerprint if precision == "float32" else f"{model_fingerprint}+{precision}"


def configure_threads() -> int:
    """Use every core this process may run on, unless the user set OMP_NUM_THREADS."""
    if not os.environ.get("OMP_NUM_THREADS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, cores or 1))
    return torch.get_num_threads()


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is available; use auto or cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)


def pad_batch(ids: list[list[int]], pad_id: int, device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id lists to the longest in the batch (dynamic padding); ids and attention mask."""
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, tokens in enumerate(ids):
        input_ids[row, :len(tokens)] = torch.tensor(tokens)
        mask[row, :len(tokens)] = 1
    return input_ids.to(device), mask.to(device)


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped longest first: at most `batch_size` texts and `max_tokens` padded tokens
    (count x longest) per batch; a text longer than the budget goes alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and \
                (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@dataclass
class EmbeddingResult:
    vectors: np.ndarray  # (n, d) float32, rows in input order
    truncated: int  # texts cut at max_length
    from_cache: int


class Embedder:
    """Encodes texts with one loaded model under a chosen expert and side."""

    def __init__(self, loaded: LoadedModel, device: str = "auto", batch_size: int = 32,
                 use_cache: bool = True, max_tokens: int | None = None,
                 precision: str = "float32"):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose {' or '.join(PRECISIONS)}")
        configure_threads()
        self.loaded = loaded
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.precision = precision
        self.max_tokens = max_tokens or self.token_budget()
        loaded.model.to(self.device)
        self.cache = EmbeddingCache(self.fingerprint) if use_cache else None

    @property
    def fingerprint(self) -> str:
        return vectors_fingerprint(self.loaded.fingerprint, self.precision)

    def token_budget(self) -> int:
        """Padded tokens per batch: on CPU, what keeps the largest activation within
        ACTIVATION_BUDGET; on a GPU only `batch_size` bounds a batch."""
        if self.device.type != "cpu":
            return 1 << 30
        config = self.loaded.config
        widest = max(config.intermediate_size, config.hidden_size)
        return max(1, ACTIVATION_BUDGET // widest)

    @property
    def dimension(self) -> int:
        return self.loaded.config.hidden_size

    def encode(self, texts: list[str], expert: str = "search", side: str = "candidate",
               **options) -> np.ndarray:
        return self.embed(texts, expert, side, **options).vectors

    def embed(self, texts: list[str], expert: str = "search", side: str = "candidate",
              batch_size: int | None = None, max_length: int | None = None,
              progress: Progress | None = None) -> EmbeddingResult:
        check_side(side)
        expert_index = self.loaded.expert_index(expert)
        max_length = min(max_length or self.loaded.max_length, self.loaded.config.max_positions)
        texts = [text if isinstance(text, str) else str(text) for text in texts]
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        keys = [entry_key(expert_index, side, max_length, text) for text in texts]
        cached = self.cache.get_entries(keys, self.dimension) if self.cache else {}
        todo = [i for i, key in enumerate(keys) if key not in cached]
        for i, key in enumerate(keys):
            if key in cached:
                vectors[i] = cached[key][0]
        ids, truncated = (self.loaded.tokenizer.encode([texts[i] for i in todo], max_length)
                          if todo else ([], []))
        computed = self._run(ids, expert_index, side, batch_size or self.batch_size,
                             progress, len(texts) - len(todo), len(texts))
        fresh, cut_keys = {}, set()
        for row, i in enumerate(todo):
            vectors[i] = computed[row]
            fresh[keys[i]] = computed[row]
            if truncated[row]:
                cut_keys.add(keys[i])
        if self.cache:
            self.cache.put_many(fresh, cut_keys)
        if progress:
            progress(len(texts), len(texts))
        # texts served from the cache were cut too: the flag stored with each vector counts them
        from_cache = len(texts) - len(todo)
        cut = sum(cached[key][1] for key in keys if key in cached)
        return EmbeddingResult(vectors, sum(truncated) + cut, from_cache)

    @torch.inference_mode()
    def _run(self, ids: list[list[int]], expert_index: int, side: str, batch_size: int,
             progress: Progress | None, done: int, total: int) -> np.ndarray:
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        encoder = self.loaded.model.tower(side)
        pad = self.loaded.tokenizer.pad_id
        finished = 0
        reduced = self.precision == "bfloat16"
        for batch in plan_batches([len(row) for row in ids], batch_size, self.max_tokens):
            input_ids, mask = pad_batch([ids[i] for i in batch], pad, self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=reduced):
                # [CLS] pooling reads position 0 only: the last layer computes just that row
                hidden = encoder(input_ids, mask, expert_index,
                                 first_only=not self.loaded.mean_pool)
            pooled = pool(hidden.float(), mask, self.loaded.mean_pool)
            out[batch] = pooled.float().cpu().numpy()
            finished += len(batch)
            if progress:
                progress(done + finished, total)
        return out
