"""The CLI on a first run: a built-in build says what it costs and reports progress every few
seconds; `train --device` picks where to train."""
import json

import pytest
import torch
from test_training import LABELS, corpus, tiny_dense

from scimult_app import builtin, cli
from scimult_app.training.trainer import TrainConfig


def test_step_reporter_speaks_every_few_seconds(capsys):
    now = [0.0]
    report = cli.StepReporter(interval=2.0, clock=lambda: now[0])
    for step in range(1, 11):
        now[0] = step * 0.9  # a step takes 0.9 s
        report(step, 10, "link", 0.5)
    lines = capsys.readouterr().err.splitlines()
    printed = [int(line.split()[1].split("/")[0]) for line in lines]
    assert printed[0] == 1 and printed[-1] == 10  # the first and the last step
    times = [step * 0.9 for step in printed]
    assert max(b - a for a, b in zip(times, times[1:])) <= 3.0  # never silent for long
    assert len(printed) < 10  # and not a line a step
    assert "s left" in lines[0]


def test_info_without_checkpoint_says_what_the_demo_build_costs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path))
    quick = TrainConfig(steps=4, batch_size=4, max_length=32, seed=builtin.DEMO_TRAIN_SEED)
    monkeypatch.setattr(builtin, "demo_config", lambda seed=0: quick)
    assert cli.main(["info"]) == 0
    captured = capsys.readouterr()
    assert "about 3 minutes" in captured.err and "--checkpoint minilm needs no training" in captured.err
    assert "step 1/4" in captured.err and "step 4/4" in captured.err
    assert "demo" in captured.out and "MoE" in captured.out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_train_on_cuda_without_a_gpu_is_a_usage_error(tmp_path, fixture_dir, capsys):
    base = tiny_dense(tmp_path / "base.ckpt")
    papers = tmp_path / "papers.jsonl"
    papers.write_text("\n".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract,
                                            "labels": p.labels}) for p in corpus()))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(vars(label)) for label in LABELS))
    code = cli.main(["train", "--corpus", str(papers), "--labels", str(labels), "--tasks",
                     "classification", "--base", str(base), "--tokenizer",
                     str(fixture_dir / "tokenizer"), "--device", "cuda", "--output",
                     str(tmp_path / "out.ckpt")])
    assert code == 2 and "no CUDA GPU is available" in capsys.readouterr().err
    assert cli.main(["train", "--corpus", str(papers), "--labels", str(labels), "--tasks",
                     "classification", "--base", str(base), "--tokenizer",
                     str(fixture_dir / "tokenizer"), "--device", "cpu", "--steps", "2",
                     "--batch-size", "4", "--output", str(tmp_path / "out.ckpt")]) == 0
    assert "training on cpu" in capsys.readouterr().err


def test_help_and_argument_errors_do_not_import_torch():
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys\nfrom scimult_app import cli\n"
            "codes = [cli.main(['--help']), cli.main(['embed', '--no-such-flag'])]\n"
            "print(codes, 'torch' in sys.modules, 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0, 2] False False"
