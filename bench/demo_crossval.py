"""Cross-validation of the demo recipe: every demo query judged once, by a model that never saw it.

The fixed held-out split (`demo_evidence.py`) has 24 to 35 queries a task, so one paper more
or less moves recall@10 by about 0.01. Here all pairs of the demo data are split into folds
by query id; for each fold the demo recipe (same steps, seed and hard negatives) trains on the
other folds and ranks the fold's queries. Figures are pooled over all queries, next to
untrained MiniLM on the same queries. The folds use the held-out split's seed, so with 5
folds the first fold is exactly the fixed held-out split; with `--tasks classification,link`
(the tasks the built-in demo trains) its model is the built-in demo. By default all three
tasks train, search included, which is the evidence for leaving the demo's search expert as
MiniLM's own attention.

    python bench/demo_crossval.py              # 5 folds, about 4 minutes each on 2 cores
    python bench/demo_crossval.py --folds 3 --seed 0

To try a change of the recipe without looking at the held-out pairs, `--within-training`
cross-validates inside the training split only (its folds drawn with another seed).
`--tasks` trains and ranks only some tasks, each for the steps it gets in the full recipe
(a step trains only its task's expert, from that task's own seeded stream, so the expert is
close to the one the full recipe trains; the learning-rate schedule is spread over fewer
steps). For example, the search expert at a lower learning rate:

    python bench/demo_crossval.py --within-training --tasks search --learning-rate 1e-5
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pooled(runs: list[dict], task: str, metric: str) -> float:
    """Mean over all queries of the folds (each fold's mean weighted by its query count)."""
    total = sum(run[task]["queries"] for run in runs)
    return sum(run[task][metric] * run[task]["queries"] for run in runs) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed (default: the built-in demo seed)")
    parser.add_argument("--tasks", default="classification,link,search",
                        help="comma-separated tasks to train and rank (default all three)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: the demo recipe's")
    parser.add_argument("--within-training", action="store_true",
                        help="cross-validate inside the training split; the held-out pairs stay unseen")
    args = parser.parse_args()

    from dataclasses import replace

    from scimult_app import builtin
    from scimult_app.corpus import demo
    from scimult_app.engine.embedder import Embedder
    from scimult_app.engine.experts import EXPERT_NAMES
    from scimult_app.models import open_model
    from scimult_app.training.evaluation import evaluate_all

    tasks = args.tasks.split(",")
    unknown = set(tasks) - set(EXPERT_NAMES)
    if unknown:
        parser.error(f"unknown task(s) {', '.join(sorted(unknown))}; the tasks are "
                     + ", ".join(EXPERT_NAMES))
    seed = builtin.DEMO_TRAIN_SEED if args.seed is None else args.seed
    builtin.ensure("minilm")
    papers, labels = demo.papers(), builtin.demo_labels()
    minilm = Embedder(open_model("minilm"))
    everything = {task: pairs for task, pairs in builtin.demo_folds(
        args.folds, args.within_training).items() if task in tasks}
    recipe = builtin.demo_config(seed)
    config = replace(recipe, steps=builtin.STEPS_PER_TASK * len(everything),
                     learning_rate=args.learning_rate or recipe.learning_rate)
    before, after = [], []
    for fold in range(args.folds):
        started = time.perf_counter()
        fit = builtin.with_demo_negatives(
            {task: [p for p, f in pairs if f != fold] for task, pairs in everything.items()}, seed)
        held = {task: [p for p, f in pairs if f == fold] for task, pairs in everything.items()}
        model, _ = builtin.train_demo(seed, pairs=fit, config=config)
        before.append(evaluate_all(minilm, held, papers, labels))
        after.append(evaluate_all(Embedder(model), held, papers, labels))
        print(f"  fold {fold + 1}/{args.folds} trained and ranked in "
              f"{time.perf_counter() - started:.0f} s", flush=True)

    print(f"\n{args.folds}-fold cross-validation"
          f"{' inside the training split' if args.within_training else ''}, training seed {seed}, "
          f"learning rate {config.learning_rate:g}: each query ranked by a model trained without it")
    print(f"{'task':16}{'queries':>8}{'MiniLM R@10':>13}{'demo R@10':>11}{'MiniLM MRR':>12}{'demo MRR':>10}")
    for task in everything:
        queries = sum(run[task]["queries"] for run in after)
        print(f"{task:16}{queries:>8}{pooled(before, task, 'recall@10'):>13.3f}"
              f"{pooled(after, task, 'recall@10'):>11.3f}{pooled(before, task, 'MRR'):>12.3f}"
              f"{pooled(after, task, 'MRR'):>10.3f}")


if __name__ == "__main__":
    main()
