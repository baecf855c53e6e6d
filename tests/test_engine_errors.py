"""Errors a person can act on: the file is named and a fix is suggested."""
import json
import shutil

import numpy as np
import pytest
import torch
from variants import (
    QUERY_PREFIX,
    TEXTS,
    TOKENIZER,
    bert_embeddings,
    checkpoint_dict,
    encoder_params,
    random_bert,
    save,
    tower_dict,
    write_variant,
)

from scimult_app.engine.embedder import Embedder
from scimult_app.errors import CheckpointError, ScimultError, TokenizerError, UnsafeCheckpointError
from scimult_app.models import open_model

HF_CACHE_VARIABLES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE")


def refused(path, tokenizer=TOKENIZER, kind=CheckpointError) -> str:
    with pytest.raises(kind) as error:
        open_model(path, tokenizer)
    message = str(error.value)
    assert str(path) in message
    return message


def test_random_bytes(tmp_path):
    path = tmp_path / "random.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    message = refused(path)
    assert "not a PyTorch checkpoint" in message and "Give a SciMult" in message
    with pytest.raises(CheckpointError) as error:
        open_model(path, TOKENIZER)
    assert not isinstance(error.value, UnsafeCheckpointError)


def test_text_file(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("these are my notes, not a model\n" * 50)
    message = refused(path)
    assert "not a PyTorch checkpoint" in message and "Give a SciMult" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.ckpt"
    path.write_bytes(b"")
    message = refused(path)
    assert "empty" in message and "fetch the checkpoint again" in message


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_file(tmp_path, fixture_dir, keep):
    data = (fixture_dir / "model.ckpt").read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[:int(len(data) * keep)])
    message = refused(path)
    assert "truncated" in message and "fetch the checkpoint again" in message


def test_pytorch_file_without_model_dict(tmp_path):
    path = tmp_path / "weights.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    message = refused(path)
    assert "model_dict" in message and "state_dict" in message


def test_state_dict_fitting_no_layout(tmp_path):
    bert = random_bert(0, layers=2)
    tower = tower_dict([bert])
    tower["encoder.layer.1.attention.self.q.weight"] = tower.pop(
        "encoder.layer.1.attention.self.query.weight")
    path = save(tmp_path / "renamed.ckpt", checkpoint_dict(tower, None, encoder_params()))
    message = refused(path)
    assert "fits no SciMult layout" in message
    assert "missing key 'ctx_model.encoder.encoder.layer.1.attention.self.query.weight'" in message
    assert "unexpected key 'ctx_model.encoder.encoder.layer.1.attention.self.q.weight'" in message


def test_state_dict_without_scimult_prefixes(tmp_path):
    bert = random_bert(0, layers=2)
    path = tmp_path / "bert_prefix.ckpt"
    torch.save({"model_dict": {"bert." + k: v for k, v in bert.state_dict().items()},
                "encoder_params": encoder_params()}, path)
    message = refused(path)
    assert "question_model.encoder." in message and "bert.embeddings" in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ScimultError, match="no such file"):
        open_model(tmp_path / "nowhere.ckpt", TOKENIZER)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        open_model(folder)


@pytest.fixture
def empty_hf_home(tmp_path, monkeypatch):
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    for variable in HF_CACHE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return home


def test_no_tokenizer(empty_hf_home, fixture_dir):
    path = fixture_dir / "model.ckpt"
    message = refused(path, tokenizer=None, kind=TokenizerError)
    assert "BiomedBERT" in message and "--tokenizer" in message


def test_tokenizer_from_local_hf_cache_under_new_name(empty_hf_home, fixture_dir):
    """The checkpoint names PubMedBERT; the cache holds the renamed BiomedBERT."""
    snapshot = (empty_hf_home / "hub" / "models--microsoft--BiomedNLP-BiomedBERT-base-uncased-abstract"
                / "snapshots" / "abc")
    snapshot.mkdir(parents=True)
    for name in ("vocab.txt", "config.json"):
        shutil.copy(fixture_dir / "tokenizer" / name, snapshot / name)
    loaded = open_model(fixture_dir / "model.ckpt")
    assert "PubMedBERT" in loaded.encoder_params["pretrained_model_cfg"]
    assert loaded.tokenizer.vocab_file == snapshot / "vocab.txt"
    summary = loaded.summary()
    assert "Hugging Face cache" in summary["tokenizer"]
    assert summary["attention_heads"] == "4 (config.json)"
    texts = [json.loads(line)["text"] for line in (fixture_dir / "texts.jsonl").read_text().splitlines()]
    vectors = Embedder(loaded, device="cpu", use_cache=False).encode(texts, "search", "query")
    with np.load(fixture_dir / "expected.npz") as expected:
        assert np.abs(vectors - expected["search.query"]).max() <= 1e-4


def test_tokenizer_with_more_tokens_than_embeddings(tmp_path):
    from scimult_app.builtin import minilm_package_folder
    path = tmp_path / "tiny.ckpt"
    write_variant(path, None, layers=2)
    message = refused(path, tokenizer=minilm_package_folder(), kind=TokenizerError)
    assert "30522" in message and "6532" in message


def test_tokenizer_folder_without_vocab(tmp_path):
    path = tmp_path / "tiny.ckpt"
    write_variant(path, None, layers=2)
    (tmp_path / "tok").mkdir()
    with pytest.raises(TokenizerError, match="no vocab.txt"):
        open_model(path, tmp_path / "tok")


@pytest.mark.parametrize("gate,flag", [(True, True), (True, False), (False, True)])
def test_learned_routing_refused(tmp_path, gate, flag):
    bert = random_bert(0, layers=2)
    extra = {}
    if gate:
        for prefix in (QUERY_PREFIX, "ctx_model.encoder."):
            extra[prefix + "encoder.layer.1.expert_gate.weight"] = torch.randn(3, 32)
    path = save(tmp_path / "routing.ckpt", checkpoint_dict(
        tower_dict([bert]), None, encoder_params(use_infer_expert=flag), extra=extra))
    message = refused(path)
    assert "learned expert routing" in message and "scimult_moe.ckpt" in message


def test_huggingface_bert_folder(tmp_path):
    bert = random_bert(9, layers=2)
    folder = tmp_path / "bert-folder"
    bert.save_pretrained(folder)
    shutil.copy(TOKENIZER / "vocab.txt", folder / "vocab.txt")
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    loaded = open_model(folder)
    summary = loaded.summary()
    assert loaded.format == "huggingface"
    assert summary["architecture"] == "vanilla (single expert)" and summary["experts"] == 1
    assert summary["attention_heads"] == "4 (config.json)"
    assert summary["tokenizer"].startswith(str(folder / "vocab.txt"))
    embedder = Embedder(loaded, device="cpu", use_cache=False)
    reference = bert_embeddings(bert, TEXTS)
    for expert in ("search", "link", "classification"):
        assert np.abs(embedder.encode(TEXTS, expert, "query") - reference).max() <= 1e-4


def test_huggingface_folder_without_weights(tmp_path):
    folder = tmp_path / "bert-folder"
    random_bert(9, layers=2).config.save_pretrained(folder)
    shutil.copy(TOKENIZER / "vocab.txt", folder / "vocab.txt")
    with pytest.raises(CheckpointError, match="model.safetensors") as error:
        open_model(folder)
    assert str(folder) in str(error.value)



@pytest.mark.parametrize("data", [b"G", b"J\x01", b"\x80\x02G\x00\x00"])
def test_pickle_cut_inside_a_number(tmp_path, data):
    """Found by tests/test_fuzz.py: a pickle that ends inside a number (struct.error)."""
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data)
    message = refused(path)
    assert "fetch the checkpoint again" in message or "not a PyTorch checkpoint" in message
