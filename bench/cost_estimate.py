"""What embedding a million papers costs: device-hours per million, from FLOPs.

Counts the encoder's forward FLOPs for papers of a given token length (the matrix products,
as bench/embed_throughput.py counts them) and divides by a sustained rate:
  measured:  --cpu-docs-per-s, a rate bench/embed_throughput.py printed on this machine, turned
             into hours directly (no FLOP model needed);
  estimated: for GPUs, a published dense peak times an assumed utilisation. No GPU was lent to
             this project, so every GPU line is an ESTIMATE, labelled so, never a measurement.

    python bench/cost_estimate.py [--tokens 280] [--cpu-docs-per-s 3.8] [--utilisation 0.35]

Prices differ by provider and year: multiply the hours by your hourly price.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import SIZES, forward_flops  # noqa: E402

# Published dense peaks in TFLOP/s (no sparsity): (float32 without TF32, bfloat16/float16)
GPUS = {
    "NVIDIA T4": (8.1, 65.0),
    "NVIDIA A10G": (31.2, 125.0),
    "NVIDIA A100 (SXM)": (19.5, 312.0),
    "NVIDIA H100 (SXM)": (67.0, 989.0),
}
MILLION = 1_000_000


def flops_per_paper(size: str, tokens: int) -> float:
    shape = SIZES[size]
    return forward_flops(shape["hidden_size"], shape["intermediate_size"],
                         shape["num_hidden_layers"], [tokens])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=280,
                        help="tokens per paper (title + abstract; SciMult cuts at 512)")
    parser.add_argument("--cpu-docs-per-s", type=float, default=None,
                        help="BERT-base documents/s measured by bench/embed_throughput.py")
    parser.add_argument("--utilisation", type=float, default=0.35,
                        help="assumed share of a GPU's peak that inference sustains")
    args = parser.parse_args()
    for size in ("minilm", "base"):
        per_paper = flops_per_paper(size, args.tokens)
        print(f"{size}: {per_paper / 1e9:.1f} GFLOP a paper of {args.tokens} tokens, "
              f"{per_paper * MILLION / 1e15:.1f} PFLOP a million papers")
    per_million = flops_per_paper("base", args.tokens) * MILLION
    if args.cpu_docs_per_s:
        hours = MILLION / args.cpu_docs_per_s / 3600
        print(f"measured, this machine's CPU (BERT-base-sized, {args.cpu_docs_per_s} doc/s): "
              f"{hours:.0f} h a million papers")
    print(f"ESTIMATE (not measured), BERT-base-sized SciMult, {args.utilisation:.0%} of the "
          "published peak sustained:")
    for name, (fp32, half) in GPUS.items():
        slow = per_million / (fp32 * 1e12 * args.utilisation) / 3600
        fast = per_million / (half * 1e12 * args.utilisation) / 3600
        print(f"  {name:18}  float32 {slow:6.2f} h   bfloat16/float16 {fast:6.2f} h")
    print("  (the T4 has no bfloat16 units: its half-precision line is float16, which this "
          "app does not offer)")


if __name__ == "__main__":
    main()
