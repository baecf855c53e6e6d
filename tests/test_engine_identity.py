"""A model is its contents: file fingerprints, model keys, uploads, and embedding cache keys."""
import io
import json
import shutil
import sqlite3
import threading

import numpy as np
import pytest
import torch

from scimult_app.engine import fingerprint as fingerprints
from scimult_app.engine.cache import EmbeddingCache
from scimult_app.engine.embedder import Embedder
from scimult_app.engine.fingerprint import file_fingerprint, folder_fingerprint
from scimult_app.engine.loading import load_model
from scimult_app.models import model_key
from scimult_app.services.uploads import save_upload


@pytest.fixture
def count_hashes(monkeypatch):
    calls = []
    real = fingerprints._stream_hash

    def counting(path, size):
        calls.append(path)
        return real(path, size)
    monkeypatch.setattr(fingerprints, "_stream_hash", counting)
    return calls


def test_file_fingerprint_is_hashed_once_per_version(tmp_path, count_hashes):
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"first version " * 1000)
    first = file_fingerprint(path)
    assert file_fingerprint(path) == first and file_fingerprint(str(path)) == first
    assert len(count_hashes) == 1  # the second and third ask are a stat, not a hash
    # another version under the same name, same size: a new hash, a new fingerprint
    path.write_bytes(b"other version " * 1000)
    second = file_fingerprint(path)
    assert second != first and len(count_hashes) == 2
    # the same bytes elsewhere: the same fingerprint
    copy = tmp_path / "copy.ckpt"
    copy.write_bytes(b"other version " * 1000)
    assert file_fingerprint(copy) == second


def test_folder_fingerprint_covers_names_and_contents(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "config.json").write_text("{}")
    (tmp_path / "a" / "vocab.txt").write_text("[PAD]\n")
    before = folder_fingerprint(tmp_path / "a")
    (tmp_path / "a" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assert folder_fingerprint(tmp_path / "a") != before


def _retrained(source, target, seed):
    """The fixture checkpoint with its weights nudged: what retraining under one name writes."""
    data = torch.load(source, weights_only=True)
    generator = torch.Generator().manual_seed(seed)
    data["model_dict"] = {key: value + 0.01 * torch.randn(value.shape, generator=generator)
                          if value.is_floating_point() else value
                          for key, value in data["model_dict"].items()}
    torch.save(data, target)


def test_retraining_under_the_same_name_changes_the_model_key(tmp_path, fixture_dir):
    tokenizer = fixture_dir / "tokenizer"
    path = tmp_path / "trained" / "mine.ckpt"
    path.parent.mkdir()
    shutil.copyfile(fixture_dir / "model.ckpt", path)
    first_key = model_key(path, tokenizer)
    assert model_key(path, tokenizer) == first_key
    first = load_model(path, tokenizer)
    _retrained(fixture_dir / "model.ckpt", path, seed=1)
    second_key = model_key(path, tokenizer)
    assert second_key != first_key
    second = load_model(path, tokenizer)
    assert second.fingerprint != first.fingerprint
    # the same bytes under another name are the same contents
    copy = tmp_path / "copy.ckpt"
    shutil.copyfile(path, copy)
    assert model_key(copy, tokenizer)[1:] == second_key[1:]
    assert load_model(copy, tokenizer).fingerprint == second.fingerprint


def test_model_key_covers_the_tokenizer_folder(tmp_path, fixture_dir):
    tokenizer = tmp_path / "tokenizer"
    shutil.copytree(fixture_dir / "tokenizer", tokenizer)
    before = model_key(fixture_dir / "model.ckpt", tokenizer)
    config = json.loads((tokenizer / "config.json").read_text())
    config["num_attention_heads"] = 2
    (tokenizer / "config.json").write_text(json.dumps(config))
    assert model_key(fixture_dir / "model.ckpt", tokenizer) != before
    assert model_key(tmp_path / "missing.ckpt")[0] == "missing"


def test_uploads_are_content_addressed(tmp_path):
    folder = tmp_path / "uploads"
    first = save_upload(io.BytesIO(b"model one"), "model.ckpt", folder)
    second = save_upload(io.BytesIO(b"model two"), "model.ckpt", folder)
    assert first != second and first.name == second.name == "model.ckpt"
    assert first.read_bytes() == b"model one" and second.read_bytes() == b"model two"
    assert save_upload(io.BytesIO(b"model one"), "model.ckpt", folder) == first
    assert not list(folder.rglob("*.part"))


def test_concurrent_uploads_of_one_name_never_share_a_temporary_file(tmp_path):
    folder = tmp_path / "uploads"
    contents = [bytes([n]) * 300_000 for n in range(6)]
    saved = [None] * len(contents)

    def upload(n):
        saved[n] = save_upload(io.BytesIO(contents[n]), "model.ckpt", folder)
    threads = [threading.Thread(target=upload, args=(n,)) for n in range(len(contents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(saved)) == len(contents)
    assert [path.read_bytes() for path in saved] == contents
    assert not list(folder.rglob("*.part"))


# ---------------------------------------------------------------- embedding cache keys

def _tokenizer_with(tmp_path, fixture_dir, name, **settings):
    folder = tmp_path / name
    shutil.copytree(fixture_dir / "tokenizer", folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(settings)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_head_count_from_another_config_is_another_cache(tmp_path, fixture_dir, monkeypatch):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path / "cache"))
    checkpoint = fixture_dir / "model.ckpt"
    four = load_model(checkpoint, _tokenizer_with(tmp_path, fixture_dir, "four", num_attention_heads=4))
    two = load_model(checkpoint, _tokenizer_with(tmp_path, fixture_dir, "two", num_attention_heads=2))
    assert four.fingerprint != two.fingerprint
    texts = ["heart failure with preserved ejection fraction", "graph neural networks"]
    first = Embedder(four, device="cpu").embed(texts, "search", "query")
    served = Embedder(two, device="cpu").embed(texts, "search", "query")
    assert served.from_cache == 0  # not the 4-head vectors
    assert np.abs(served.vectors - first.vectors).max() > 1e-4


@pytest.mark.parametrize("settings", [{"layer_norm_eps": 1e-5}, {"hidden_act": "gelu_new"},
                                      {"hidden_act": "relu"}])
def test_every_encoder_setting_is_in_the_fingerprint(tmp_path, fixture_dir, settings):
    checkpoint = fixture_dir / "model.ckpt"
    plain = load_model(checkpoint, fixture_dir / "tokenizer")
    changed = load_model(checkpoint, _tokenizer_with(tmp_path, fixture_dir, "changed", **settings))
    assert changed.fingerprint != plain.fingerprint


def test_cache_format_version_is_in_the_fingerprint(fixture_dir, monkeypatch):
    from scimult_app.engine import loading
    before = load_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer").fingerprint
    monkeypatch.setattr(loading, "CACHE_FORMAT", loading.CACHE_FORMAT + 1)
    assert load_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer").fingerprint != before


def test_max_length_is_in_the_fingerprint(tmp_path, fixture_dir):
    data = torch.load(fixture_dir / "model.ckpt", weights_only=True)
    data["encoder_params"] = {**data["encoder_params"], "max_length": 64}
    shorter = tmp_path / "short.ckpt"
    torch.save(data, shorter)
    data["encoder_params"]["max_length"] = 128
    longer = tmp_path / "long.ckpt"
    torch.save(data, longer)
    tokenizer = fixture_dir / "tokenizer"
    assert load_model(shorter, tokenizer).fingerprint != load_model(longer, tokenizer).fingerprint


# ---------------------------------------------------------------- SQLite behaviour

def test_cache_uses_wal_and_a_busy_timeout(tmp_path):
    cache = EmbeddingCache("abc", root=tmp_path, timeout=2.5)
    cache.put_many({"k": np.ones(4, np.float32)})
    connection = cache._connect()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    cache.close()


def test_a_locked_cache_is_not_moved_aside(tmp_path):
    writer = EmbeddingCache("abc", root=tmp_path)
    writer.put_many({"k": np.ones(4, np.float32)})
    writer.close()
    # another process holds the file locked (a rollback-journal database, say, from an older
    # version, in the middle of a write): no reader gets in until it is done
    blocker = sqlite3.connect(tmp_path / "embeddings" / "abc.sqlite", timeout=0.1)
    blocker.execute("PRAGMA journal_mode = DELETE")
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        locked = EmbeddingCache("abc", root=tmp_path, timeout=0.2)
        with pytest.warns(UserWarning, match="not available now"):
            assert locked.get_many(["k"], 4) == {}
        with pytest.warns(UserWarning, match="not available now"):
            locked.put_many({"other": np.zeros(4, np.float32)})  # skipped, no exception
    finally:
        blocker.rollback()
        blocker.close()
    assert not list((tmp_path / "embeddings").glob("*.corrupt-*"))
    # once the lock is gone the same object reads the healthy file
    assert set(locked.get_many(["k"], 4)) == {"k"}
    locked.close()


def test_opening_the_cache_does_not_count_the_table(tmp_path, monkeypatch):
    statements = []
    real_connect = sqlite3.connect

    def tracing_connect(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(statements.append)
        return connection
    monkeypatch.setattr(sqlite3, "connect", tracing_connect)
    cache = EmbeddingCache("abc", root=tmp_path)
    cache.get_many(["k"], 4)
    cache.close()
    assert not [s for s in statements if "count(" in s.lower()]


def test_truncation_is_stored_not_recounted(fixture_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path / "cache"))
    loaded = load_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer")
    texts = ["short text", "tumour " * 600]
    first = Embedder(loaded, device="cpu").embed(texts, "search", "query")
    assert first.truncated == 1

    def no_counting(*args, **kwargs):
        raise AssertionError("cached texts were re-tokenized")
    monkeypatch.setattr(loaded.tokenizer, "count_tokens", no_counting)
    monkeypatch.setattr(loaded.tokenizer, "encode", no_counting)
    again = Embedder(loaded, device="cpu").embed(texts, "search", "query")
    assert again.from_cache == 2 and again.truncated == 1
