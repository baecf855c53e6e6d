"""Training runs: BERT dropout in train mode only, private random streams, same seed same
weights, resume after a stop, a clean exit mid-training, cancel of a background job."""
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch
from test_training import LABELS, QUERIES, corpus, tiny_dense

from scimult_app.engine.checkpoint import dropout_probabilities
from scimult_app.engine.model import set_dropout_generator
from scimult_app.errors import CheckpointError
from scimult_app.models import open_model
from scimult_app.training.finetune import fine_tune, training_pairs
from scimult_app.training.trainer import TrainConfig, TrainingStopped

QUICK = TrainConfig(steps=9, batch_size=6, learning_rate=3e-3, max_length=24, seed=5)


@pytest.fixture
def tiny(tmp_path, fixture_dir):
    return open_model(tiny_dense(tmp_path / "tiny.ckpt"), fixture_dir / "tokenizer")


def pairs():
    return training_pairs(corpus(), LABELS, QUERIES)


def weights(loaded) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in loaded.model.state_dict().items()}


def assert_same_weights(first, second):
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a), "weights differ"


def test_dropout_probabilities_come_from_the_configuration():
    assert dropout_probabilities({"dropout": 0.2}, "x") == (0.2, 0.2)
    assert dropout_probabilities({}, "x") == (0.1, 0.1)  # BERT's default
    assert dropout_probabilities({"dropout": 0}, "x") == (0.1, 0.1)  # 0: SciMult keeps the backbone's
    assert dropout_probabilities({"hidden_dropout_prob": 0.3, "attention_probs_dropout_prob": 0.0,
                                  "dropout": 0.2}, "x") == (0.3, 0.0)
    message = r"model.ckpt: hidden_dropout_prob \(or dropout\) is 1.5.*\[0, 1\)"
    with pytest.raises(CheckpointError, match=message):
        dropout_probabilities({"dropout": 1.5}, "model.ckpt")


def test_dropout_is_on_in_training_and_off_in_eval(tiny, fixture_dir):
    model = tiny.model.tower("query")
    assert model.config.hidden_dropout == 0.1 and model.config.attention_dropout == 0.1
    ids, _ = tiny.tokenizer.encode(["heart failure ejection fraction", "seizure"], 16)
    from scimult_app.engine.embedder import pad_batch
    input_ids, mask = pad_batch(ids, tiny.tokenizer.pad_id)
    with torch.no_grad():
        evaluated = model(input_ids, mask)
        assert torch.equal(model(input_ids, mask), evaluated)  # eval: deterministic
        model.train()
        set_dropout_generator(model, torch.Generator().manual_seed(1))
        first = model(input_ids, mask)
        set_dropout_generator(model, torch.Generator().manual_seed(1))
        again = model(input_ids, mask)
        set_dropout_generator(model, torch.Generator().manual_seed(2))
        other = model(input_ids, mask)
        model.eval()
        assert torch.equal(model(input_ids, mask), evaluated)
    assert torch.equal(first, again)  # the masks come from the generator given
    assert not torch.allclose(first, evaluated) and not torch.allclose(first, other)


def test_huggingface_config_dropout_is_read(tmp_path, fixture_dir):
    from variants import random_bert
    model = random_bert(0)
    model.config.hidden_dropout_prob, model.config.attention_probs_dropout_prob = 0.25, 0.05
    model.save_pretrained(tmp_path / "bert")
    config = open_model(tmp_path / "bert", fixture_dir / "tokenizer").config
    assert (config.hidden_dropout, config.attention_dropout) == (0.25, 0.05)


def test_training_leaves_the_global_random_state_alone(tiny):
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    fine_tune(tiny, pairs(), QUICK, num_experts=3)
    assert torch.equal(torch.get_rng_state(), before)


def test_same_seed_gives_identical_weights(tmp_path, fixture_dir):
    def run(seed):
        base = open_model(tiny_dense(tmp_path / "base.ckpt"), fixture_dir / "tokenizer")
        torch.manual_seed(seed * 7 + 1)  # the global state must not matter
        return fine_tune(base, pairs(), QUICK, num_experts=3)[0]
    first, second = run(0), run(1)
    assert_same_weights(first, second)


def test_a_stopped_run_resumes_to_the_same_weights(tmp_path, fixture_dir):
    base = open_model(tiny_dense(tmp_path / "base.ckpt"), fixture_dir / "tokenizer")
    straight, straight_result = fine_tune(base, pairs(), QUICK, num_experts=3)
    state = tmp_path / "build" / "train-state.pt"
    steps = []
    with pytest.raises(TrainingStopped, match="stopped at step 5 of 9.*resumes from"):
        fine_tune(base, pairs(), QUICK, num_experts=3, state_file=state, save_every=2,
                  progress=lambda step, *rest: steps.append(step),
                  should_stop=lambda: len(steps) >= 5)
    assert state.is_file() and steps == [1, 2, 3, 4, 5]
    resumed_steps = []
    resumed, result = fine_tune(base, pairs(), QUICK, num_experts=3, state_file=state,
                                progress=lambda step, *rest: resumed_steps.append(step))
    assert resumed_steps == [6, 7, 8, 9]  # the first five steps were kept
    assert result.losses == straight_result.losses
    assert_same_weights(resumed, straight)
    other = TrainConfig(**{**QUICK.__dict__, "seed": 6})  # another run ignores the saved state
    fresh_steps = []
    fine_tune(base, pairs(), other, num_experts=3, state_file=state,
              progress=lambda step, *rest: fresh_steps.append(step))
    assert fresh_steps[0] == 1


def test_exit_during_background_training_stops_cleanly(tmp_path, fixture_dir):
    """The interpreter exits while a daemon thread trains: the loop stops at a step boundary,
    saves its state, and the process ends normally (it used to abort with exit status 134)."""
    base = tiny_dense(tmp_path / "base.ckpt")
    state = tmp_path / "train-state.pt"
    script = textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {str(fixture_dir.parents[2])!r})
        sys.path.insert(0, {str(fixture_dir.parents[1])!r})
        from test_training import LABELS, QUERIES, corpus
        from scimult_app.models import open_model
        from scimult_app.training.finetune import fine_tune, training_pairs
        from scimult_app.training.trainer import TrainConfig
        base = open_model({str(base)!r}, {str(fixture_dir / "tokenizer")!r})
        pairs = training_pairs(corpus(), LABELS, QUERIES)
        started = threading.Event()
        def work():
            fine_tune(base, pairs, TrainConfig(steps=100000, batch_size=6, max_length=24),
                      progress=lambda *a: started.set(), state_file={str(state)!r})
        threading.Thread(target=work, daemon=True).start()
        started.wait(600)
        print("leaving", flush=True)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr
    assert "leaving" in run.stdout and "terminate called" not in run.stderr
    assert state.is_file()  # saved at the step where it stopped


def test_cancelling_a_training_job_stops_it(tmp_path, fixture_dir):
    from scimult_app.services.training_job import start_training
    base = tiny_dense(tmp_path / "base.ckpt")
    long = TrainConfig(steps=100000, batch_size=6, max_length=24)
    job = start_training("cancel-me", (str(base), str(fixture_dir / "tokenizer")), pairs(), long,
                         folder=tmp_path / "trained")
    deadline = threading.Event()
    while job.done < 2 and job.running and not deadline.wait(0.05):
        pass
    assert job.running, job.error
    job.cancel()
    assert job.wait(600) and job.error == "cancelled" and not job.succeeded
    assert job.done < long.steps
    assert not list((tmp_path / "trained").glob("*.ckpt"))


def test_exit_waits_for_background_jobs_still_setting_up(tmp_path):
    """A job busy in torch before its training loop starts (the demo build loads MiniLM
    first) is waited for at exit, so the process ends normally."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path.parents[0])!r})
        import torch
        from scimult_app.services.jobs import JOBS
        from scimult_app.training.stopping import SHUTDOWN
        def work(job):
            job.report(0, 1, "setting up")
            values = torch.randn(200, 200)
            while not SHUTDOWN.is_set():
                values = (values @ values).tanh()
            finish = time.monotonic() + 1.0  # the step under way still takes a while
            while time.monotonic() < finish:
                values = (values @ values).tanh()
            print("stopped at the boundary", flush=True)
        job = JOBS.start("setup", work)
        while job.message != "setting up":
            time.sleep(0.01)
        print("leaving", flush=True)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["leaving", "stopped", "at", "the", "boundary"]
