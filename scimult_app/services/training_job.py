"""Training runs as background jobs: they survive reruns and widget clicks, report progress,
can be cancelled, and leave a checkpoint named by its content."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scimult_app.corpus.store import file_stem
from scimult_app.models import open_model
from scimult_app.paths import cache_dir
from scimult_app.services.jobs import JOBS, Job
from scimult_app.training.export import save_model
from scimult_app.training.finetune import fine_tune
from scimult_app.training.pairs import Pair
from scimult_app.training.trainer import TrainConfig, TrainResult


@dataclass
class TrainedModel:
    checkpoint: Path
    tokenizer: Path
    result: TrainResult


def start_training(name: str, base: tuple[str, str | None], pairs: dict[str, list[Pair]],
                   config: TrainConfig, num_experts: int = 3, layout: str = "mod2:attn",
                   folder: Path | None = None) -> Job:
    """Start (or return the running) training job saved as `<folder>/<name>-<hash>.ckpt`."""
    folder = folder or cache_dir() / "trained"

    def work(job: Job) -> TrainedModel:
        job.report(0, config.steps, "loading the base model")
        base_model = open_model(*base)
        model, result = fine_tune(base_model, pairs, config, num_experts, layout,
                                  lambda step, total, task, loss:
                                  job.report(step, total, f"{task} loss {loss:.3f}"))
        target = folder / f"{file_stem(name)}-{model.fingerprint[:10]}.ckpt"
        target.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, target)
        return TrainedModel(target, Path(model.tokenizer.vocab_file).parent, result)

    return JOBS.start(f"train:{name}", work, f"Training {name}", restart=True)
