"""The command line (`scimult` or `python -m scimult_app`) over the same library as the app.

Commands:
    info   what was detected in a checkpoint (experts, layers, pooling, tokenizer, notes)
    embed  embed documents with one expert and side into an .npy file, or into a vector set
           folder (incremental, resumable; --engine ray on a Ray cluster)
    rank   rank a corpus (or a vector set) for each query; one JSON line per hit
    index  build the faiss HNSW index of a vector set; prints its recall@10
    evaluate  score systems (experts, BM25, fusion) on judged queries against a corpus
    train  fine-tune task experts on a labelled, cited or queried corpus; writes a checkpoint

Exit status: 0 on success, 2 for bad arguments or input, 1 for anything else.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from scimult_app import builtin
from scimult_app.analysis.evaluation import DEFAULT_SYSTEMS
from scimult_app.engine.experts import EXPERT_NAMES
from scimult_app.errors import ScimultError

BAD_INPUT, FAILURE = 2, 1


class UsageError(ScimultError):
    pass


def say(message: str) -> None:
    print(message, file=sys.stderr)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, metavar="P",
                        help=f"a SciMult .ckpt, a Hugging Face BERT folder, or a built-in name "
                             f"({', '.join(builtin.NAMES)}); default {builtin.DEFAULT}")
    parser.add_argument("--tokenizer", default=None, metavar="T",
                        help="the backbone folder with vocab.txt (or the vocab.txt file)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=32, metavar="N")
    parser.add_argument("--max-length", type=int, default=None, metavar="N",
                        help="truncate inputs at N tokens (default: the model's, 512 for SciMult)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="float32 (default) reproduces the reference vectors; bfloat16 is "
                             "about 2x faster on CPUs with AVX512-BF16/AMX and on GPUs, "
                             "cosine to float32 above 0.9999; cached and stored apart")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scimult_app",
                                     description="SciMult embeddings, rankings and model facts.")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="what was detected in a checkpoint")
    _add_model_options(info)
    info.add_argument("--json", action="store_true", help="print JSON")

    embed = commands.add_parser("embed", help="embed documents into an .npy file or a vector set "
                                "folder (incremental, resumable; --engine ray for a cluster)")
    _add_model_options(embed)
    embed.add_argument("--expert", choices=EXPERT_NAMES, required=True)
    embed.add_argument("--side", choices=("query", "candidate"), required=True)
    embed.add_argument("--input", required=True, metavar="FILE",
                       help="JSONL (text, or title and abstract), CSV, or plain text; for a "
                            "folder output also JSONL.gz, Parquet or a folder of such shards")
    embed.add_argument("--output", required=True, metavar="OUT.npy|FOLDER",
                       help="an .npy file, or a folder: a vector set that later runs extend")
    embed.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process; ray: Ray Data actors (folder output)")
    embed.add_argument("--address", default=None, metavar="A",
                       help="Ray cluster: auto, host:port or ray://...; default a local Ray")
    embed.add_argument("--num-workers", type=int, default=2, metavar="N",
                       help="Ray actors, one model each (default 2)")
    embed.add_argument("--cpus-per-worker", type=float, default=None, metavar="C",
                       help="CPUs each Ray actor reserves (default: the cluster's CPUs shared out)")
    embed.add_argument("--chunk-size", type=int, default=1024, metavar="N",
                       help="local folder output: papers embedded and saved per chunk")
    _add_run_options(embed)

    rank = commands.add_parser("rank", help="rank a corpus for each query")
    _add_model_options(rank)
    rank.add_argument("--expert", choices=EXPERT_NAMES, required=True)
    rank.add_argument("--queries", required=True, metavar="Q")
    rank.add_argument("--corpus", default=None, metavar="C",
                      help="documents to embed and rank (or give --corpus-vectors)")
    rank.add_argument("--corpus-vectors", default=None, metavar="FOLDER",
                      help="a vector set folder (from `embed --output FOLDER`, local or ray)")
    rank.add_argument("--search", choices=("auto", "exact", "faiss"), default="auto",
                      help="with --corpus-vectors: exact top-k, the faiss index, or auto "
                           "(the index when the set is large and has one)")
    rank.add_argument("--top-k", type=int, default=10, metavar="K")
    rank.add_argument("--output", required=True, metavar="RUN.jsonl")
    _add_run_options(rank)

    index = commands.add_parser("index", help="build the faiss HNSW index of a vector set and "
                                "print its recall@10 against exact search")
    index.add_argument("--vectors", required=True, metavar="FOLDER")
    index.add_argument("--score", choices=("dot", "cosine"), default=None,
                       help="score function (default: the one recorded with the set, else dot)")
    index.add_argument("--m", type=int, default=32, help="HNSW links per node (default 32)")
    index.add_argument("--ef-construction", type=int, default=80, metavar="EF")
    index.add_argument("--sample", type=int, default=200, metavar="N",
                       help="queries (rows of the set) for measuring recall@10")

    evaluate = commands.add_parser("evaluate", help="score systems (experts, BM25, fusion) on "
                                   "judged queries against a corpus")
    _add_model_options(evaluate)
    evaluate.add_argument("--queries", required=True, metavar="Q",
                          help="JSONL {id, text} or BEIR queries.jsonl {_id, text}, TREC topics, "
                               "or qid<TAB>text lines")
    evaluate.add_argument("--qrels", default=None, metavar="R",
                          help="judgments: BEIR 'query-id corpus-id score' or TREC 'qid 0 docid rel' "
                               "(default: the queries file's 'relevant' lists)")
    evaluate.add_argument("--corpus", required=True, metavar="C",
                          help="papers: JSONL (id, title, abstract or text), CSV or plain text")
    evaluate.add_argument("--systems", nargs="+", default=list(DEFAULT_SYSTEMS), metavar="S",
                          help="experts (search, link, classification), bm25, and fusions such as "
                               f"rrf:bm25+search (default: {' '.join(DEFAULT_SYSTEMS)})")
    evaluate.add_argument("--rrf-k", type=int, default=60, metavar="K",
                          help="the reciprocal rank fusion constant (default 60)")
    evaluate.add_argument("--depth", type=int, default=100, metavar="N",
                          help="papers ranked per query (default 100, what recall@100 needs)")
    evaluate.add_argument("--output", required=True, metavar="METRICS.json")
    evaluate.add_argument("--per-query-csv", default=None, metavar="FILE.csv",
                          help="also write every system's per-query values as CSV")
    evaluate.add_argument("--runs", default=None, metavar="DIR",
                          help="also write one TREC run file per system into DIR")
    evaluate.add_argument("--trials", type=int, default=10_000, metavar="N",
                          help="random sign flips of the paired randomization test (default 10000)")
    _add_run_options(evaluate)

    train = commands.add_parser("train", help="fine-tune task experts with SciMult's "
                                "multi-task contrastive recipe")
    train.add_argument("--corpus", required=True, metavar="C",
                       help="JSONL papers with id, title, abstract, and 'labels' and/or 'cites'")
    train.add_argument("--labels", action="append", default=[], metavar="L",
                       help="label set (CSV or JSONL with label, name, definition); repeatable")
    train.add_argument("--queries", default=None, metavar="Q",
                       help="JSONL queries with id, text and relevant (paper ids)")
    train.add_argument("--base", default="minilm", metavar="P",
                       help="base model: a .ckpt, a BERT folder or a built-in name (default minilm)")
    train.add_argument("--tokenizer", default=None, metavar="T")
    train.add_argument("--tasks", default="search,link,classification",
                       help="comma-separated tasks to train (default all three)")
    train.add_argument("--experts", type=int, default=3, metavar="N",
                       help="experts when the base is dense (1 keeps it dense)")
    train.add_argument("--layout", default="mod2:attn",
                       help="MoE layout for a dense base: modK:attn|fwd|attn_fwd, ge6mod3:..., le7mod3:...")
    train.add_argument("--steps", type=int, default=240)
    train.add_argument("--hard-negatives", type=int, default=1, metavar="N",
                       help="per pair: N papers sharing the positive's last label (link, search) and "
                            "every other label (classification); 0 for in-batch only")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=3e-4)
    train.add_argument("--max-length", type=int, default=128)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--train-shared", action="store_true",
                       help="also update the shared (non-expert) weights")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where to train (auto: CUDA when present)")
    train.add_argument("--output", required=True, metavar="OUT.ckpt")
    return parser


class StepReporter:
    """Training progress on stderr: the first step, then at most every `interval` seconds, and
    the last step, so a long build is never silent for more than a few seconds."""

    def __init__(self, prefix: str = "", interval: float = 2.0, clock=time.monotonic) -> None:
        self.prefix, self.interval, self.clock = prefix, interval, clock
        self.last: float | None = None
        self.started = clock()

    def __call__(self, step: int, total: int, task: str, loss: float) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval and step < total:
            return
        self.last = now
        elapsed = now - self.started
        left = f", about {elapsed / step * (total - step):.0f} s left" if step < total else ""
        say(f"{self.prefix}step {step}/{total} {task} loss {loss:.3f} ({elapsed:.0f} s{left})")


def _build_builtin(name: str) -> None:
    """Build a built-in model on first use, saying what it costs and how it goes."""
    if name in builtin.NAMES and not builtin.is_built(name):
        if name == "demo":
            say(builtin.demo_build_note())
            if not builtin.is_built("minilm"):
                say("  preparing minilm first (a few seconds)")
        else:
            say(f"preparing the built-in model '{name}' once (a few seconds)")
        builtin.ensure(name, StepReporter("  "))


def _load(args: argparse.Namespace):
    from scimult_app.models import open_model
    _build_builtin(args.checkpoint or builtin.DEFAULT)
    loaded = open_model(args.checkpoint, args.tokenizer)
    if not loaded.is_moe and getattr(args, "expert", None):
        say(f"note: {loaded.name} is a single-expert model; --expert {args.expert} selects its "
            "one encoder (every expert name gives the same vectors)")
    return loaded


def _embedder(loaded, args: argparse.Namespace, use_cache: bool | None = None):
    from scimult_app.engine.embedder import Embedder
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if args.max_length is not None and args.max_length < 2:
        raise UsageError("--max-length must be at least 2")
    try:
        return Embedder(loaded, device=args.device, batch_size=args.batch_size,
                        use_cache=(not args.no_cache) if use_cache is None else use_cache,
                        precision=args.precision)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _progress(label: str):
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        print(f"\r{label}: {done}/{total}", end="\n" if done >= total else "", file=sys.stderr)
    return report


def _check_output(path: str, suffix: str) -> Path:
    output = Path(path)
    if not output.parent.exists():
        raise UsageError(f"{output}: the folder {output.parent} does not exist.")
    if output.suffix.lower() != suffix:
        raise UsageError(f"{output}: the output file must end in {suffix}.")
    return output


def run_info(args: argparse.Namespace) -> None:
    summary = _load(args).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        print(f"{key:18} {value}")


def run_embed(args: argparse.Namespace) -> None:
    if args.engine == "ray" or Path(args.output).suffix.lower() != ".npy":
        run_embed_folder(args)
        return
    from scimult_app.corpus.readers import read_documents
    output = _check_output(args.output, ".npy")
    documents = read_documents(args.input)
    loaded = _load(args)
    result = _embedder(loaded, args).embed([d.model_input() for d in documents], args.expert,
                                           args.side, max_length=args.max_length,
                                           progress=_progress("embedding"))
    np.save(output, result.vectors)
    say(f"wrote {output}: {result.vectors.shape[0]} x {result.vectors.shape[1]} float32 "
        f"({result.from_cache} from cache, {result.truncated} truncated at "
        f"{args.max_length or loaded.max_length} tokens)")


def run_embed_folder(args: argparse.Namespace) -> None:
    """Embed into a vector set folder: locally (incremental, resumable) or on Ray."""
    from scimult_app.corpus.stream import corpus_files, count_rows, iter_documents
    from scimult_app.vectors.embed import embed_into
    from scimult_app.vectors.store import VectorSet
    if min(args.batch_size, args.num_workers, args.chunk_size) < 1:
        raise UsageError("--batch-size, --num-workers and --chunk-size must be at least 1")
    corpus_files(args.input)  # a missing or unknown input fails before the model loads
    loaded = _load(args)
    if args.engine == "ray":
        from scimult_app.services.ray_embed import embed_with_ray
        vector_set = embed_with_ray(args.input, args.output, loaded,
                                    args.checkpoint or builtin.DEFAULT, args.tokenizer,
                                    args.expert, args.side, args.num_workers, args.batch_size,
                                    args.max_length, args.device, args.address,
                                    args.cpus_per_worker, say=say, precision=args.precision)
        say(f"wrote {vector_set.describe()}")
        return
    output = Path(args.output)
    if not output.parent.exists():
        raise UsageError(f"{output}: the folder {output.parent} does not exist.")
    embedder = _embedder(loaded, args, use_cache=False)
    vector_set = VectorSet.create(output, embedder.fingerprint, args.expert, args.side,
                                  corpus=str(args.input), score_function=loaded.score_function)
    total = count_rows(args.input)
    shown = _progress("embedding")
    report = embed_into(vector_set, embedder,
                        iter_documents(args.input), args.expert, args.side,
                        progress=(lambda done, all_, message: shown(done, all_)) if shown else None,
                        chunk_size=args.chunk_size, max_length=args.max_length, total=total)
    say(f"{report.summary()}; wrote {VectorSet.open(output).describe()}")


def run_rank(args: argparse.Namespace) -> None:
    from scimult_app.analysis.ranking import hits, top_k_chunked
    from scimult_app.corpus.readers import read_documents
    if args.top_k < 1:
        raise UsageError("--top-k must be at least 1")
    if bool(args.corpus) == bool(args.corpus_vectors):
        raise UsageError("give either --corpus (documents) or --corpus-vectors (a vector set folder)")
    output = _check_output(args.output, ".jsonl")
    queries = read_documents(args.queries)
    vector_set = None
    if args.corpus_vectors:
        from scimult_app.vectors.store import VectorSet
        vector_set = VectorSet.open(args.corpus_vectors)
    else:
        corpus = read_documents(args.corpus)
    loaded = _load(args)
    embedder = _embedder(loaded, args)
    query_vectors = embedder.encode([d.model_input() for d in queries], args.expert, "query",
                                    max_length=args.max_length)
    if vector_set is not None:
        from scimult_app.vectors.search import search
        vector_set.check(embedder.fingerprint, args.expert, "candidate")
        found = search(vector_set, query_vectors, args.top_k, loaded.score_function, args.search)
        indices, values, doc_ids = found.indices, found.scores, vector_set.ids()
        where = f"{len(vector_set)} vectors in {vector_set.folder}, {found.method} search"
    else:
        corpus_vectors = embedder.encode([d.model_input() for d in corpus], args.expert,
                                         "candidate", max_length=args.max_length,
                                         progress=_progress("corpus"))
        indices, values = top_k_chunked(query_vectors, corpus_vectors, args.top_k,
                                        loaded.score_function)
        doc_ids = [d.id for d in corpus]
        where = f"{len(corpus)} documents"
    rows = hits(indices, values, [d.id for d in queries], doc_ids)
    with open(output, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    say(f"wrote {output}: {len(rows)} hits for {len(queries)} queries over {where} "
        f"({loaded.score_function} score, expert {args.expert})")


def run_index(args: argparse.Namespace) -> None:
    import time

    from scimult_app.vectors.index import build_index, load_index, recall_at_k, search_index
    from scimult_app.vectors.store import VectorSet
    if min(args.m, args.ef_construction, args.sample) < 1:
        raise UsageError("--m, --ef-construction and --sample must be at least 1")
    vector_set = VectorSet.open(args.vectors)
    score_function = args.score or vector_set.score_function
    say(f"indexing {vector_set.describe()} (HNSW, M={args.m}, {score_function} score)")
    info = build_index(vector_set, score_function, args.m, args.ef_construction)
    index = load_index(vector_set, score_function)
    recall = recall_at_k(vector_set, index, score_function, 10, sample=args.sample)
    queries = np.asarray(vector_set.vectors()[:min(args.sample, len(vector_set))], np.float32)
    began = time.perf_counter()
    for query in queries:
        search_index(index, query, 10, score_function)
    latency = (time.perf_counter() - began) / max(len(queries), 1) * 1000
    print(f"index {info.path}: {info.count} vectors in {info.seconds:.1f} s; recall@10 against "
          f"exact search {recall:.3f} over {len(queries)} queries; {latency:.2f} ms per query")


def run_evaluate(args: argparse.Namespace) -> None:
    from scimult_app.analysis import evaluation
    from scimult_app.analysis.metrics import METRIC_TITLES, METRICS
    from scimult_app.analysis.significance import in_words
    from scimult_app.corpus.judgments import judgments_from_queries, read_judged_queries, read_qrels
    from scimult_app.corpus.readers import read_documents
    output = _check_output(args.output, ".json")
    csv_output = _check_output(args.per_query_csv, ".csv") if args.per_query_csv else None
    if min(args.depth, args.trials) < 1 or args.rrf_k < 0:
        raise UsageError("--depth and --trials must be at least 1, --rrf-k at least 0")
    names = [part for item in args.systems for part in item.split(",") if part.strip()]
    names = [evaluation.parse_system(name).name for name in names]
    queries = read_judged_queries(args.queries)
    judgments = read_qrels(args.qrels) if args.qrels else judgments_from_queries(queries, args.queries)
    for note in judgments.notes:
        say(f"note: {args.qrels}: {note}")
    docs = read_documents(args.corpus)
    say(f"{len(queries.texts)} queries ({queries.format}), judgments for {len(judgments.grades)} "
        f"({judgments.format}), {len(docs)} papers")
    encode = None
    loaded = None
    if evaluation.uses_experts(names):
        loaded = _load(args)
        if not loaded.is_moe:
            say(f"note: {loaded.name} is a single-expert model; search, link and classification "
                "use its one encoder and rank alike")
        embedder = _embedder(loaded, args)
        vectors: dict = {}

        def encode(texts: list[str], expert: str, side: str) -> np.ndarray:
            key = (loaded.expert_index(expert), side, hash(tuple(texts)))
            if key not in vectors:
                vectors[key] = embedder.encode(texts, expert, side, max_length=args.max_length,
                                               progress=_progress(f"{expert} {side} side"))
            return vectors[key]
    runs = evaluation.run_systems(names, queries.texts, docs, encode,
                                  loaded.score_function if loaded else "dot", args.depth,
                                  args.rrf_k, progress=say)
    report = evaluation.evaluate(runs, queries.texts, judgments.grades, [d.id for d in docs])
    result = evaluation.as_json(report)
    result["model"] = loaded.name if loaded else None
    result["corpus"], result["rrf_k"], result["depth"] = str(args.corpus), args.rrf_k, args.depth
    if len(names) > 1 and report.query_ids:
        best = max(names, key=lambda n: report.means[n]["ndcg@10"])
        result["comparisons"] = []
        for other in names:
            if other == best:
                continue
            test = evaluation.compare(report, best, other, "ndcg@10", args.trials)
            result["comparisons"].append({"a": best, "b": other, "metric": "ndcg@10",
                                          "difference": test.difference, "p_value": test.p_value,
                                          "in_words": in_words(best, other, "nDCG@10", test)})
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if csv_output:
        evaluation.per_query_table(report, queries.texts).to_csv(csv_output, index=False)
    if args.runs:
        folder = Path(args.runs)
        folder.mkdir(parents=True, exist_ok=True)
        for name, run in runs.items():
            (folder / f"{evaluation.file_stem(name)}.trec").write_text(
                evaluation.trec_run(run, name), encoding="utf-8")
    for line in evaluation.problem_lines(report):
        say(f"note: {line}")
    width = max(len(n) for n in names)
    print(f"{'system':{width}}  " + "  ".join(f"{METRIC_TITLES[m]:>10}" for m in METRICS))
    for name in names:
        print(f"{name:{width}}  " + "  ".join(f"{report.means[name][m]:10.3f}" for m in METRICS))
    for comparison in result.get("comparisons", []):
        say(comparison["in_words"])
    say(f"wrote {output}: {len(names)} systems over {len(report.query_ids)} judged queries")


def run_train(args: argparse.Namespace) -> None:
    from scimult_app.corpus.labels import read_label_set
    from scimult_app.corpus.readers import queries_from_documents, read_documents
    from scimult_app.models import open_model
    from scimult_app.training.export import save_model
    from scimult_app.training.finetune import fine_tune, training_pairs
    from scimult_app.training.pairs import with_hard_negatives
    from scimult_app.training.trainer import TrainConfig
    output = _check_output(args.output, ".ckpt")
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    unknown = [t for t in tasks if t not in EXPERT_NAMES]
    if unknown or not tasks:
        raise UsageError(f"--tasks: unknown task {unknown[0] if unknown else '(none)'}; "
                         f"choose from {', '.join(EXPERT_NAMES)}")
    if min(args.steps, args.batch_size, args.experts) < 1 or args.hard_negatives < 0:
        raise UsageError("--steps, --batch-size and --experts must be at least 1, "
                         "--hard-negatives at least 0")
    from scimult_app.engine.embedder import pick_device
    try:
        device = pick_device(args.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    papers = read_documents(args.corpus)
    labels = [label for path in args.labels
              for label in read_label_set(path, _read_bytes(path))]
    queries = queries_from_documents(read_documents(args.queries)) if args.queries else []
    pairs = training_pairs(papers, labels, queries, tasks)
    if args.hard_negatives:
        pairs = with_hard_negatives(pairs, papers, labels, args.hard_negatives, args.seed)
    say("pairs: " + ", ".join(f"{task} {len(p)}" for task, p in pairs.items()))
    _build_builtin(args.base)
    base = open_model(args.base, args.tokenizer)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, max_length=args.max_length,
                         seed=args.seed, train_shared=args.train_shared)

    say(f"training on {device}")
    model, result = fine_tune(base, pairs, config, args.experts, args.layout, StepReporter(),
                              device=str(device))
    say(result.truncation_note())
    save_model(model, output)
    say(f"wrote {output}: {model.num_experts} expert(s), {args.steps} steps in "
        f"{result.seconds:.0f} s, peak memory {result.peak_memory_mb:.0f} MB. Load it with "
        f"--checkpoint {output} --tokenizer {model.tokenizer.vocab_file.parent}")


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: cannot read ({error.strerror}).") from None


COMMANDS = {"info": run_info, "embed": run_embed, "rank": run_rank, "index": run_index,
            "evaluate": run_evaluate,
            "train": run_train}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return BAD_INPUT if exit_.code else 0
    try:
        COMMANDS[args.command](args)
        return 0
    except ScimultError as error:
        say(f"error: {error}")
        return BAD_INPUT
    except KeyboardInterrupt:
        say("interrupted")
        return FAILURE
    except Exception as error:  # an unexpected failure: short message, traceback on request
        say(f"error: {type(error).__name__}: {error}")
        if os.environ.get("SCIMULT_DEBUG"):
            traceback.print_exc()
        else:
            say("(set SCIMULT_DEBUG=1 to see the traceback)")
        return FAILURE
