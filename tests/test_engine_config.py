"""A Hugging Face config.json's hidden_act, layer_norm_eps and position_embedding_type are
honoured (the vectors match transformers' BertModel) or refused with a message."""
import json
import shutil

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel
from variants import TEXTS, TOKENIZER, bert_embeddings, checkpoint_dict, encoder_params, save, tower_dict

from scimult_app.engine.embedder import Embedder
from scimult_app.errors import CheckpointError
from scimult_app.models import open_model


def random_bert(hidden_act: str, eps: float, seed: int = 3) -> BertModel:
    config = BertConfig(vocab_size=6532, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, hidden_act=hidden_act, layer_norm_eps=eps,
                        max_position_embeddings=512)
    model = BertModel(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            # small LayerNorm inputs make eps matter; gains around 1
            parameter.copy_(1 + 0.2 * noise if name.endswith("LayerNorm.weight") else 0.02 * noise)
    return model.eval()


def hf_folder(tmp_path, bert: BertModel, **config_overrides):
    folder = tmp_path / "bert"
    bert.save_pretrained(folder)
    shutil.copyfile(TOKENIZER / "vocab.txt", folder / "vocab.txt")
    if config_overrides:
        config = json.loads((folder / "config.json").read_text())
        config.update(config_overrides)
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def vectors(loaded) -> np.ndarray:
    return Embedder(loaded, device="cpu", use_cache=False).encode(TEXTS, "search", "candidate")


@pytest.mark.parametrize("hidden_act, eps", [("relu", 1e-12), ("gelu_new", 1e-12),
                                             ("gelu", 1e-3), ("relu", 0.5)])
def test_huggingface_folder_settings_are_honoured(tmp_path, hidden_act, eps):
    bert = random_bert(hidden_act, eps)
    loaded = open_model(hf_folder(tmp_path, bert))
    assert loaded.config.hidden_act == hidden_act and loaded.config.layer_norm_eps == eps
    assert np.abs(vectors(loaded) - bert_embeddings(bert, TEXTS)).max() <= 1e-4


def test_checkpoint_takes_settings_from_the_tokenizer_folder(tmp_path):
    bert = random_bert("relu", 1e-3)
    path = save(tmp_path / "relu.ckpt", checkpoint_dict(tower_dict([bert]), None, encoder_params()))
    folder = tmp_path / "tokenizer"
    shutil.copytree(TOKENIZER, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_act="relu", layer_norm_eps=1e-3, num_attention_heads=4)
    (folder / "config.json").write_text(json.dumps(config))
    loaded = open_model(path, folder)
    assert np.abs(vectors(loaded) - bert_embeddings(bert, TEXTS)).max() <= 1e-4


@pytest.mark.parametrize("overrides, words", [
    ({"position_embedding_type": "relative_key"}, ["relative_key", "absolute"]),
    ({"position_embedding_type": "relative_key_query"}, ["relative_key_query"]),
    ({"hidden_act": "quick_gelu"}, ["quick_gelu", "gelu_new"]),
    ({"layer_norm_eps": "small"}, ["layer_norm_eps"]),
])
def test_unsupported_settings_are_refused_with_a_message(tmp_path, overrides, words):
    folder = hf_folder(tmp_path, random_bert("gelu", 1e-12), **overrides)
    with pytest.raises(CheckpointError) as error:
        open_model(folder)
    message = str(error.value)
    assert str(folder / "config.json") in message
    for word in words:
        assert word in message
