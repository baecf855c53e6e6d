"""Evidence for the built-in `demo` model: trained experts against untrained MiniLM.

Builds `demo` from scratch in a fresh cache folder (timing it and its peak memory), then on
the held-out demo pairs of each task prints recall@10 and MRR of MiniLM and of the trained
expert, and the mean neighbour overlap@10 between each pair of experts on the demo corpus.

    python bench/demo_evidence.py            # build anew (a few minutes), then evaluate
    python bench/demo_evidence.py --reuse    # evaluate the demo model already in the cache
    python bench/demo_evidence.py --reuse --seeds 0 1 3   # also train with other seeds (~4 min each)

`--seeds` retrains the demo recipe with other training seeds (batch order, dropout, hard
negatives; same held-out split) and prints each seed's figures with their mean and range, so
the built-in seed's figures can be read against the spread.
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="use the cached demo model")
    parser.add_argument("--seeds", type=int, nargs="*", default=[],
                        help="other training seeds to retrain and report (mean and range)")
    args = parser.parse_args()
    if not args.reuse:
        os.environ["SCIMULT_APP_CACHE"] = tempfile.mkdtemp(prefix="scimult-evidence-")

    from scimult_app import builtin
    from scimult_app.analysis.compare import agreement
    from scimult_app.corpus import demo
    from scimult_app.engine.embedder import Embedder
    from scimult_app.models import open_model
    from scimult_app.training.evaluation import evaluate_all

    started = time.perf_counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def report(step: int, total: int, task: str, loss: float) -> None:
        if step % 20 == 0 or step == total:
            print(f"  step {step}/{total} {task:14} loss {loss:.3f}", flush=True)

    built_now = not builtin.is_built("demo")
    builtin.ensure("demo", report)
    build_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    papers = demo.papers()
    labels = builtin.demo_labels()
    held_out = builtin.demo_pairs(held_out=True)
    minilm, trained = Embedder(open_model("minilm")), Embedder(open_model("demo"))
    before = evaluate_all(minilm, held_out, papers, labels)
    after = evaluate_all(trained, held_out, papers, labels)

    print("\nHeld-out pairs (queries / papers never seen in training)")
    print(f"{'task':16}{'queries':>8}{'MiniLM R@10':>13}{'demo R@10':>11}{'MiniLM MRR':>12}{'demo MRR':>10}")
    for task in held_out:
        b, a = before[task], after[task]
        print(f"{task:16}{a['queries']:>8}{b['recall@10']:>13.3f}{a['recall@10']:>11.3f}"
              f"{b['MRR']:>12.3f}{a['MRR']:>10.3f}")

    texts = [p.model_input() for p in papers]
    vectors = {name: (trained.encode(texts, name, "query"), trained.encode(texts, name, "candidate"))
               for name in ("search", "link", "classification")}
    table = agreement(vectors, k=10, score_function=trained.loaded.score_function)
    print("\nMean neighbour overlap@10 between experts on the demo corpus "
          f"({len(papers)} papers)")
    print(table.round(3).to_string())

    if built_now:
        print(f"\nTraining build: {build_seconds:.0f} s wall (incl. loading), peak RSS "
              f"{peak_mb:.0f} MB (process before: {rss_before:.0f} MB), "
              f"{os.cpu_count()} cores")
    else:
        print("\n(demo was already built; run without --reuse to time the build)")
    if args.seeds:
        seed_spread(args.seeds, after, before, held_out, papers, labels)


def seed_spread(seeds, built, before, held_out, papers, labels) -> None:
    """Retrain the demo recipe with each seed; print per-seed figures, mean and range."""
    from scimult_app import builtin
    from scimult_app.engine.embedder import Embedder
    from scimult_app.training.evaluation import evaluate_all
    runs = {builtin.DEMO_TRAIN_SEED: built}
    for seed in seeds:
        started = time.perf_counter()
        model, _ = builtin.train_demo(seed)
        runs[seed] = evaluate_all(Embedder(model), held_out, papers, labels)
        print(f"  seed {seed} trained and evaluated in {time.perf_counter() - started:.0f} s",
              flush=True)
    print(f"\nHeld-out figures per training seed (seed {builtin.DEMO_TRAIN_SEED} is the built-in one)")
    for metric in ("recall@10", "MRR"):
        print(f"{metric:10}{'MiniLM':>8}" + "".join(f"{'seed ' + str(s):>9}" for s in runs)
              + f"{'mean':>8}{'min':>7}{'max':>7}")
        for task in held_out:
            values = [run[task][metric] for run in runs.values()]
            print(f"{task[:10]:10}{before[task][metric]:>8.3f}" + "".join(f"{v:>9.3f}" for v in values)
                  + f"{sum(values) / len(values):>8.3f}{min(values):>7.3f}{max(values):>7.3f}")


if __name__ == "__main__":
    main()
