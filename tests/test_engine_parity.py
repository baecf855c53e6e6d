"""Numerical parity with transformers' BertModel: vanilla path, padding, and each kind of expert."""
import numpy as np
import pytest
import torch
from variants import (
    TEXTS,
    TOKENIZER,
    bert_embeddings,
    checkpoint_dict,
    encoder_params,
    expert_layers,
    expert_models,
    random_bert,
    save,
    tower_dict,
)

from scimult_app.engine.embedder import Embedder
from scimult_app.models import open_model

MIXED = [
    "short",
    "a somewhat longer sentence about myocardial infarction and troponin",
    "Deep learning [SEP] " + "convolutional networks for histopathology slides " * 8,
    "x y",
    "protein folding",
]


def embedder(path):
    return Embedder(open_model(path, TOKENIZER), device="cpu", use_cache=False)


@pytest.fixture(scope="module")
def vanilla(tmp_path_factory):
    bert = random_bert(11, layers=3)
    path = tmp_path_factory.mktemp("vanilla") / "vanilla.ckpt"
    save(path, checkpoint_dict(tower_dict([bert]), None, encoder_params()))
    return bert, embedder(path)


def test_vanilla_cls_equals_bert_with_padding(vanilla):
    bert, ours = vanilla
    # one padded batch in transformers, one padded batch here (in length-sorted order)
    reference = bert_embeddings(bert, MIXED)
    vectors = ours.encode(MIXED, batch_size=64)
    assert vectors.shape == (len(MIXED), 32)
    assert np.abs(vectors - reference).max() <= 1e-4


def test_padding_changes_nothing(vanilla):
    bert, ours = vanilla
    alone = np.stack([bert_embeddings(bert, [text])[0] for text in MIXED])  # no padding at all
    assert np.abs(ours.encode(MIXED, batch_size=64) - alone).max() <= 1e-4
    assert np.abs(ours.encode(MIXED, batch_size=1) - alone).max() <= 1e-4


def test_vanilla_truncates_like_bert(vanilla):
    bert, ours = vanilla
    result = ours.embed(TEXTS, max_length=512)
    assert result.truncated == 1
    assert np.abs(result.vectors - bert_embeddings(bert, TEXTS)).max() <= 1e-4
    short = ours.embed(MIXED, max_length=8)
    assert np.abs(short.vectors - bert_embeddings(bert, MIXED, max_length=8)).max() <= 1e-4


@pytest.mark.parametrize("moe_type", ["mod2:fwd", "mod2:attn"])
def test_expert_e_equals_bert_e(tmp_path, moe_type):
    """Expert e's slots hold BertModel_e's weights; every other weight is shared."""
    layers = 4
    base = random_bert(21, layers=layers)
    moe_layers = expert_layers(moe_type, layers)
    models = expert_models(base, 3, moe_layers, attention="attn" in moe_type,
                           feedforward="fwd" in moe_type, seed=300)
    # the experts really are different models
    references = [bert_embeddings(model, MIXED) for model in models]
    assert np.abs(references[0] - references[1]).max() > 1e-2
    assert np.abs(references[1] - references[2]).max() > 1e-2
    # and they differ only in the expert sublayers of the MoE layers
    first, second = models[0].state_dict(), models[1].state_dict()
    differing = [key for key in first if not torch.equal(first[key], second[key])]
    assert differing
    assert all(key.startswith("encoder.layer.") and int(key.split(".")[2]) in moe_layers
               for key in differing)
    assert all(("attention." in key) == ("attn" in moe_type) for key in differing)
    path = save(tmp_path / "moe.ckpt", checkpoint_dict(
        tower_dict(models, moe_type), None,
        encoder_params(use_moe=True, num_expert=3, moe_type=moe_type)))
    ours = embedder(path)
    for index, expert in enumerate(("search", "link", "classification")):
        for side in ("query", "candidate"):
            vectors = ours.encode(MIXED, expert, side, batch_size=2)
            assert np.abs(vectors - references[index]).max() <= 1e-4, (expert, side)
