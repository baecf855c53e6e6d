"""SciMult's multi-task training on tiny models: loss, expert divergence, round trip, errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scimult_app.corpus.documents import Document
from scimult_app.engine.checkpoint import save_checkpoint
from scimult_app.engine.embedder import Embedder
from scimult_app.engine.model import BiEncoder, EncoderConfig
from scimult_app.errors import InputError, ScimultError
from scimult_app.models import open_model
from scimult_app.training.export import save_model
from scimult_app.training.finetune import as_moe, fine_tune, training_pairs
from scimult_app.training.moe import parse_layout
from scimult_app.training.pairs import Pair
from scimult_app.training.trainer import TrainConfig, train

TOPICS = {
    "cardio": "heart failure ejection fraction dyspnea edema diuretic",
    "onco": "tumour chemotherapy metastasis lymphoma biopsy radiotherapy",
    "neuro": "seizure epilepsy stroke aphasia hemiparesis neuron",
    "eco": "forest species biodiversity pollinator wetland drought",
    "chem": "catalyst polymer battery electrolyte perovskite synthesis",
}


def tiny_dense(path, seed=0, mean_pool=False, dropout=None):
    """A random 4-layer checkpoint; `dropout` sets both BERT dropout probabilities (default:
    none given, so BERT's 0.1 applies)."""
    torch.manual_seed(seed)
    config = EncoderConfig(vocab_size=6532, hidden_size=32, num_layers=4, num_heads=4,
                           intermediate_size=64)
    model = BiEncoder(config)
    for parameter in model.parameters():
        if parameter.dim() > 1:  # matrices random, LayerNorms as initialised (gain 1)
            torch.nn.init.normal_(parameter, std=0.2)
    params = {"pretrained_model_cfg": "tiny", "use_moe": False, "mean_pool": mean_pool,
              "shared_encoder": True, "projection_dim": 0}
    if dropout is not None:
        params |= {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    save_checkpoint(path, dict(model.state_dict()), params)
    return path


@pytest.fixture
def tiny(tmp_path, fixture_dir):
    return open_model(tiny_dense(tmp_path / "tiny.ckpt"), fixture_dir / "tokenizer")


def corpus():
    papers = []
    for topic, words in TOPICS.items():
        for n in range(4):
            papers.append(Document(id=f"{topic}-{n}", title=f"{words.split()[n]} study {n}",
                                   abstract=f"{words} case {n}", labels=[topic],
                                   extra={"cites": [f"{topic}-{m}" for m in range(n)]}))
    return papers


class Label:
    def __init__(self, label, name, definition):
        self.label, self.name, self.definition = label, name, definition


LABELS = [Label(topic, topic, words) for topic, words in TOPICS.items()]
QUERIES = [{"id": f"q-{topic}", "text": words.split()[0] + " " + words.split()[1],
            "relevant": [f"{topic}-0", f"{topic}-1"]} for topic, words in TOPICS.items()]


def test_loss_decreases_on_a_tiny_model(tmp_path, fixture_dir):
    # without dropout, so the loss curve measures learning rather than dropout's noise
    tiny = open_model(tiny_dense(tmp_path / "tiny.ckpt", dropout=0.0), fixture_dir / "tokenizer")
    pairs = training_pairs(corpus(), LABELS, QUERIES)
    model, result = fine_tune(tiny, pairs, TrainConfig(steps=45, batch_size=8, learning_rate=3e-3,
                                                       max_length=32), num_experts=1)
    for task in ("search", "link", "classification"):
        assert result.mean_loss(task, first=False) < 0.8 * result.mean_loss(task, first=True), task


def test_experts_start_as_copies_then_diverge(tiny):
    texts = [p.model_input() for p in corpus()]
    moe = as_moe(tiny, 3, "mod2:attn")
    assert moe.is_moe and moe.config.attention_expert_layers == (1, 3)
    dense_vectors = Embedder(tiny, use_cache=False).encode(texts, "search", "candidate")
    before = Embedder(moe, use_cache=False)
    for expert in ("search", "link", "classification"):
        np.testing.assert_allclose(before.encode(texts, expert, "candidate"), dense_vectors, atol=1e-5)
    pairs = training_pairs(corpus(), LABELS, QUERIES)
    trained, _ = fine_tune(moe, pairs, TrainConfig(steps=30, batch_size=8, learning_rate=3e-3,
                                                   max_length=32))
    after = Embedder(trained, use_cache=False)
    search, link = after.encode(texts, "search", "candidate"), after.encode(texts, "link", "candidate")
    assert np.abs(search - link).max() > 1e-3  # copies agreed to 1e-5 before training
    # only the expert sublayers learned: the embeddings (shared) did not move
    assert torch.equal(trained.model.question_model.encoder.embeddings.word_embeddings.weight,
                       moe.model.question_model.encoder.embeddings.word_embeddings.weight)


def test_written_checkpoint_round_trips(tiny, tmp_path, fixture_dir):
    pairs = training_pairs(corpus(), LABELS, QUERIES)
    trained, _ = fine_tune(tiny, pairs, TrainConfig(steps=6, batch_size=8, max_length=32),
                           num_experts=3, moe_type="mod2:attn_fwd")
    path = tmp_path / "trained.ckpt"
    save_model(trained, path)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"model_dict", "optimizer_dict", "scheduler_dict", "offset", "epoch",
                        "encoder_params"}
    params = raw["encoder_params"]
    assert (params["use_moe"], params["num_expert"], params["moe_type"]) == (True, 3, "mod2:attn_fwd")
    keys = raw["model_dict"]
    assert "question_model.encoder.encoder.layer.1.attention.self.moe_query.2.weight" in keys
    assert "ctx_model.encoder.encoder.layer.3.moe_layer.output_layers.1.LayerNorm.bias" in keys
    assert "ctx_model.encoder.embeddings.position_ids" in keys
    assert "question_model.encoder.pooler.dense.weight" in keys
    reloaded = open_model(path, fixture_dir / "tokenizer")
    texts = [p.model_input() for p in corpus()]
    for expert in ("search", "link", "classification"):
        for side in ("query", "candidate"):
            np.testing.assert_allclose(
                Embedder(reloaded, use_cache=False).encode(texts, expert, side),
                Embedder(trained, use_cache=False).encode(texts, expert, side), atol=1e-6)


def test_layout_rules_match_the_reference():
    assert parse_layout("mod2:attn", 12)[0] == [1, 3, 5, 7, 9, 11]
    assert parse_layout("mod3:fwd", 12) == ([2, 5, 8, 11], False, True)
    assert parse_layout("ge6mod3:attn", 12)[0] == [5, 8, 11]
    assert parse_layout("le7mod3:attn_fwd", 12) == ([0, 3, 6], True, True)
    with pytest.raises(ScimultError, match="unknown MoE layout"):
        parse_layout("every:attn", 12)


def test_no_pairs_for_a_task_is_a_clear_error():
    papers = [Document(id="a", title="t", abstract="x")]
    with pytest.raises(InputError, match="no training pairs for the link task.*cites"):
        training_pairs(papers, LABELS, QUERIES[:0], tasks=("link",))


def test_unknown_ids_are_named():
    papers = corpus()
    papers[3].extra["cites"] = ["missing-paper"]
    with pytest.raises(InputError, match="'missing-paper'"):
        training_pairs(papers, LABELS, [], tasks=("link",))
    with pytest.raises(InputError, match="'nope'"):
        training_pairs(corpus(), LABELS, [{"id": "q", "text": "x", "relevant": ["nope"]}],
                       tasks=("search",))


def test_unknown_task_is_refused(tiny):
    with pytest.raises(InputError, match="unknown task"):
        train(tiny, {"ranking": [Pair("ranking", "a", "b")]}, TrainConfig(steps=1))


def test_cli_train_round_trip(tmp_path, fixture_dir):
    base = tiny_dense(tmp_path / "base.ckpt")
    papers = tmp_path / "papers.jsonl"
    papers.write_text("\n".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract,
                                            "labels": p.labels, "cites": p.extra["cites"]})
                                for p in corpus()))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(vars(label)) for label in LABELS))
    out = tmp_path / "out.ckpt"
    run = subprocess.run(
        [sys.executable, "-m", "scimult_app", "train", "--corpus", str(papers), "--labels",
         str(labels), "--tasks", "link,classification", "--base", str(base), "--tokenizer",
         str(fixture_dir / "tokenizer"), "--steps", "4", "--batch-size", "4", "--output", str(out)],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "pairs: classification 20, link 30" in run.stderr and "wrote" in run.stderr
    loaded = open_model(out, fixture_dir / "tokenizer")
    assert loaded.num_experts == 3
    negative = subprocess.run(
        [sys.executable, "-m", "scimult_app", "train", "--corpus", str(papers), "--base", str(base),
         "--hard-negatives", "-1", "--output", str(tmp_path / "never.ckpt")],
        capture_output=True, text=True, timeout=300)
    assert negative.returncode == 2 and "--hard-negatives at least 0" in negative.stderr
    assert not (tmp_path / "never.ckpt").exists()
    uncited = tmp_path / "uncited.jsonl"
    uncited.write_text("\n".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract})
                                 for p in corpus()))
    bad = subprocess.run(
        [sys.executable, "-m", "scimult_app", "train", "--corpus", str(uncited), "--tasks",
         "link", "--base", str(base), "--tokenizer", str(fixture_dir / "tokenizer"),
         "--output", str(tmp_path / "bad.ckpt")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "no training pairs for the link task" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_demo_builtin_builds_a_three_expert_model(tmp_path, monkeypatch):
    """The `demo` recipe end to end (fewer steps): MiniLM -> 3-expert MoE trained on demo data."""
    from scimult_app import builtin
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path))
    quick = TrainConfig(steps=6, batch_size=4, max_length=32, seed=builtin.DEMO_TRAIN_SEED)
    monkeypatch.setattr(builtin, "demo_config", lambda seed=0: quick)
    seen = []
    checkpoint, tokenizer = builtin.ensure("demo", lambda step, total, task, loss: seen.append(task))
    assert seen == ["classification", "link"] * 3  # the search expert is not trained
    demo_model = open_model("demo")
    assert demo_model.is_moe and demo_model.config.attention_expert_layers == (1, 3, 5)
    assert demo_model.encoder_params["demo_training"]["steps"] == 6
    assert not (builtin.folder("demo") / builtin.STATE_FILE).exists()  # removed once built
    minilm_model = open_model("minilm")
    search_layer = demo_model.model.tower("query").encoder.layer[1].attention.self
    dense_layer = minilm_model.model.tower("query").encoder.layer[1].attention.self
    assert torch.equal(search_layer.moe_query[0].weight, dense_layer.query.weight)  # MiniLM's own
    assert not torch.equal(search_layer.moe_query[1].weight, dense_layer.query.weight)  # trained
    held, train_part = builtin.demo_pairs(held_out=True), builtin.demo_pairs()
    for task in ("search", "link", "classification"):
        held_ids = {p.query_id for p in held[task]}
        assert held_ids and not held_ids & {p.query_id for p in train_part[task]}
        assert not any(p.negatives for p in held[task])
        assert any(p.negatives for p in train_part[task]) == (task != "search")


def test_crossval_script_names_an_unknown_task():
    run = subprocess.run([sys.executable, "bench/demo_crossval.py", "--tasks", "search,serch"],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    assert "unknown task(s) serch; the tasks are" in run.stderr and "Traceback" not in run.stderr


def test_training_reports_truncated_pairs(tiny):
    long_text = "heart failure ejection fraction " * 40  # 442 tokens with this vocabulary
    pairs = {"search": [Pair("search", "short query", "short paper"),
                        Pair("search", long_text, "another paper"),
                        Pair("search", "a query", "a paper", negatives=(long_text,))],
             "link": [Pair("link", "citing paper", "cited paper")]}
    _, result = fine_tune(tiny, pairs, TrainConfig(steps=2, batch_size=4, max_length=64), 1)
    assert result.max_length == 64
    assert result.truncated_pairs == {"search": 2, "link": 0}
    assert result.truncation_note() == ("pairs with a text cut at 64 tokens: search 2 of 3, "
                                        "link 0 of 1")
    _, longer = fine_tune(tiny, pairs, TrainConfig(steps=2, batch_size=4, max_length=512), 1)
    assert longer.truncated_pairs == {"search": 0, "link": 0}
