"""Every checkpoint variant SciMult released (or could have), built from transformers' BertModel."""
import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from variants import (
    CANDIDATE_PREFIX,
    QUERY_PREFIX,
    TEXTS,
    TOKENIZER,
    bert_embeddings,
    checkpoint_dict,
    encoder_params,
    expert_layers,
    expert_parts,
    random_bert,
    save,
    storage_locations,
    tower_dict,
    write_variant,
)

from scimult_app.engine.embedder import Embedder
from scimult_app.models import open_model

EXPERTS = ("search", "link", "classification")
MOE_VARIANTS = [
    ("mod2:attn", 6),
    ("mod3:fwd", 6),
    ("mod2:attn_fwd", 6),
    ("ge6mod3:attn", 12),
    ("le7mod3:fwd", 12),
    ("ge6mod3:attn_fwd", 12),
]


def embed(loaded, texts=TEXTS, expert="search", side="query", **options):
    return Embedder(loaded, device="cpu", use_cache=False).encode(texts, expert, side, **options)


def test_reference_layer_rules():
    assert expert_layers("mod2:attn", 6) == [1, 3, 5]
    assert expert_layers("mod3:fwd", 6) == [2, 5]
    assert expert_layers("ge6mod3:attn", 12) == [5, 8, 11]
    assert expert_layers("le7mod3:fwd", 12) == [0, 3, 6]


def test_vanilla_shared(tmp_path):
    path = tmp_path / "scimult_vanilla.ckpt"
    [bert] = write_variant(path, None, layers=2)
    loaded = open_model(path, TOKENIZER)
    summary = loaded.summary()
    assert summary["architecture"] == "vanilla (single expert)"
    assert summary["experts"] == 1 and not loaded.is_moe
    assert summary["expert_layers"] == [] and summary["expert_sublayers"] == []
    assert summary["encoders"] == "shared query/candidate encoder"
    assert summary["layers"] == 2 and summary["hidden_size"] == 32
    assert summary["intermediate_size"] == 64 and summary["vocab_size"] == 6532
    assert summary["attention_heads"] == "4 (config.json)"
    assert summary["pooling"] == "[CLS]" and summary["score"] == "dot product"
    assert any("single-expert" in note for note in summary["notes"])
    reference = bert_embeddings(bert, TEXTS)
    vectors = {(e, s): embed(loaded, expert=e, side=s) for e in EXPERTS for s in ("query", "candidate")}
    for value in vectors.values():
        assert np.abs(value - reference).max() <= 1e-4
        assert np.array_equal(value, vectors["search", "query"])


def test_vanilla_separate_encoders(tmp_path):
    question, ctx = random_bert(1, layers=2), random_bert(2, layers=2)
    path = save(tmp_path / "vanilla_separate.ckpt",
                checkpoint_dict(tower_dict([question]), tower_dict([ctx]),
                                encoder_params(shared_encoder=False)))
    loaded = open_model(path, TOKENIZER)
    assert not loaded.shared
    assert loaded.summary()["encoders"] == "separate query and candidate encoders"
    queries = embed(loaded, side="query")
    candidates = embed(loaded, side="candidate")
    assert np.abs(queries - bert_embeddings(question, TEXTS)).max() <= 1e-4
    assert np.abs(candidates - bert_embeddings(ctx, TEXTS)).max() <= 1e-4
    assert np.abs(queries - candidates).max() > 1e-2


def test_separate_flag_false_but_equal_towers_is_shared(tmp_path):
    """shared_encoder false with identical tensors: one encoder, same vectors on both sides."""
    bert = random_bert(4, layers=2)
    path = save(tmp_path / "same.ckpt", checkpoint_dict(tower_dict([bert]), tower_dict([bert]),
                                                        encoder_params(shared_encoder=False)))
    loaded = open_model(path, TOKENIZER)
    assert loaded.shared
    assert np.array_equal(embed(loaded, side="query"), embed(loaded, side="candidate"))


@pytest.mark.parametrize("moe_type,layers", MOE_VARIANTS)
def test_moe_variant(tmp_path, moe_type, layers):
    path = tmp_path / "moe.ckpt"
    models = write_variant(path, moe_type, layers=layers, seed=layers)
    loaded = open_model(path, TOKENIZER)
    summary = loaded.summary()
    rule = expert_layers(moe_type, layers)
    attention, feedforward = expert_parts(moe_type)
    assert summary["architecture"] == "MoE" and summary["experts"] == 3
    assert summary["expert_names"] == list(EXPERTS)
    assert summary["expert_layers"] == rule
    assert list(loaded.config.attention_expert_layers) == (rule if attention else [])
    assert list(loaded.config.feedforward_expert_layers) == (rule if feedforward else [])
    assert summary["expert_sublayers"] == (["attention"] if attention else []) + (
        ["feed-forward"] if feedforward else [])
    assert summary["moe_type"] == moe_type
    assert summary["layers"] == layers
    assert summary["encoders"] == "shared query/candidate encoder"
    assert not any("single-expert" in note for note in summary["notes"])
    vectors = []
    for index, expert in enumerate(EXPERTS):
        query = embed(loaded, expert=expert, side="query")
        candidate = embed(loaded, expert=expert, side="candidate")
        assert np.abs(query - bert_embeddings(models[index], TEXTS)).max() <= 1e-4
        assert np.array_equal(query, candidate)  # shared encoder, same expert on both sides
        vectors.append(query)
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(vectors[a] - vectors[b]).max() > 1e-3


def test_two_expert_model_refuses_a_third_expert(tmp_path):
    path = tmp_path / "two.ckpt"
    models = write_variant(path, "mod2:attn", num_experts=2, layers=4)
    loaded = open_model(path, TOKENIZER)
    assert loaded.num_experts == 2
    assert np.abs(embed(loaded, expert="link") - bert_embeddings(models[1], TEXTS)).max() <= 1e-4
    with pytest.raises(Exception, match="2 experts"):
        embed(loaded, expert="classification")


def test_dictconfig_encoder_params(tmp_path):
    path = tmp_path / "dictconfig.ckpt"
    params = {"mean_pool": True, "sequence_length": 300}
    models = write_variant(path, "mod2:attn", layers=4, dictconfig=True, params=params)
    with zipfile.ZipFile(path) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    assert b"omegaconf.dictconfig" in pickled and b"DictConfig" in pickled
    loaded = open_model(path, TOKENIZER)
    assert isinstance(loaded.encoder_params, dict)
    assert loaded.encoder_params["moe_type"] == "mod2:attn"
    assert loaded.encoder_params["mean_pool"] is True
    assert loaded.encoder_params["sequence_length"] == 300
    assert loaded.encoder_params["pretrained_model_cfg"].startswith("microsoft/")
    summary = loaded.summary()
    assert summary["pooling"] == "mean, L2-normalised" and summary["score"] == "cosine"
    for index, expert in enumerate(EXPERTS):
        vectors = embed(loaded, expert=expert)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
        reference = bert_embeddings(models[index], TEXTS, mean_pool=True)
        assert np.abs(vectors - reference).max() <= 1e-4


def test_position_ids_present_or_absent(tmp_path):
    with_ids = write_variant(tmp_path / "with.ckpt", "mod3:fwd", seed=5, position_ids=True)
    write_variant(tmp_path / "without.ckpt", "mod3:fwd", seed=5, position_ids=False)
    loaded_with = open_model(tmp_path / "with.ckpt", TOKENIZER)
    loaded_without = open_model(tmp_path / "without.ckpt", TOKENIZER)
    for index, expert in enumerate(EXPERTS):
        a = embed(loaded_with, expert=expert)
        b = embed(loaded_without, expert=expert)
        assert np.array_equal(a, b)
        assert np.abs(a - bert_embeddings(with_ids[index], TEXTS)).max() <= 1e-4


def test_tensors_saved_on_cuda_load_on_cpu(tmp_path):
    path = tmp_path / "cuda.ckpt"
    models = write_variant(path, "mod2:attn_fwd", layers=4, cuda=True)
    locations = storage_locations(path)
    assert locations and set(locations) == {"cuda:0"}
    if torch.cuda.is_available():
        data = torch.load(path, weights_only=False)
        assert next(iter(data["model_dict"].values())).is_cuda
    else:
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, map_location=None, weights_only=True)
    loaded = open_model(path, TOKENIZER)
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())
    for index, expert in enumerate(EXPERTS):
        assert np.abs(embed(loaded, expert=expert) - bert_embeddings(models[index], TEXTS)).max() <= 1e-4


def _tokenizer_folder(tmp_path, heads):
    folder = tmp_path / f"tokenizer-{heads}"
    folder.mkdir()
    shutil.copy(TOKENIZER / "vocab.txt", folder / "vocab.txt")
    if heads is not None:
        config = json.loads((TOKENIZER / "config.json").read_text())
        config["num_attention_heads"] = heads
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_heads_from_tokenizer_config(tmp_path):
    bert = random_bert(6, layers=2, hidden=32, heads=2)
    path = save(tmp_path / "heads2.ckpt", checkpoint_dict(tower_dict([bert]), None, encoder_params()))
    loaded = open_model(path, _tokenizer_folder(tmp_path, 2))
    assert loaded.config.num_heads == 2
    assert loaded.summary()["attention_heads"] == "2 (config.json)"
    assert np.abs(embed(loaded) - bert_embeddings(bert, TEXTS)).max() <= 1e-4
    # the head count matters: a folder claiming 4 heads gives other vectors
    wrong = open_model(path, _tokenizer_folder(tmp_path, 4))
    assert wrong.config.num_heads == 4
    assert np.abs(embed(wrong) - bert_embeddings(bert, TEXTS)).max() > 1e-3


def test_heads_by_convention_without_config(tmp_path):
    bert = random_bert(7, layers=2, hidden=128, heads=2, intermediate=128)
    path = save(tmp_path / "hidden128.ckpt", checkpoint_dict(tower_dict([bert]), None, encoder_params()))
    loaded = open_model(path, _tokenizer_folder(tmp_path, None))
    assert loaded.config.num_heads == 2
    assert loaded.summary()["attention_heads"] == ("2 (assumed: head size 64 convention, no "
                                                   "num_attention_heads in a config.json)")
    # said in the notes too (the app's model summary and `info` show them)
    [note] = [note for note in loaded.notes if note.startswith("attention heads")]
    assert "2 assumed" in note and "config.json" in note and "--tokenizer" in note
    assert np.abs(embed(loaded) - bert_embeddings(bert, TEXTS)).max() <= 1e-4


def test_released_layout_extras_are_ignored(tmp_path):
    """pooler.*, position_ids and top-level linear.weight are in the file and unused."""
    path = tmp_path / "extras.ckpt"
    write_variant(path, "mod2:attn", layers=2)
    model_dict = torch.load(path, weights_only=True)["model_dict"]
    assert "linear.weight" in model_dict
    assert QUERY_PREFIX + "pooler.dense.weight" in model_dict
    assert CANDIDATE_PREFIX + "embeddings.position_ids" in model_dict
    loaded = open_model(path, TOKENIZER)
    names = dict(loaded.model.named_parameters())
    assert not any("pooler" in name or "linear" in name for name in names)
