"""Embedder: dtype, shape, order, batch size, truncation, and the on-disk cache."""
import json
import sqlite3

import numpy as np
import pytest
from variants import TOKENIZER, bert_embeddings, hf_tokenizer, write_variant

from scimult_app.engine.embedder import Embedder
from scimult_app.models import open_model


@pytest.fixture(scope="module")
def texts(fixture_dir):
    return [json.loads(line)["text"] for line in (fixture_dir / "texts.jsonl").read_text().splitlines()
            if line.strip()]


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "app-cache"
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(root))
    return root


def test_float32_rows_in_input_order(fixture_model, texts):
    embedder = Embedder(fixture_model, device="cpu", use_cache=False)
    vectors = embedder.encode(texts, "search", "candidate")
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 32)
    # lengths differ a lot, so the length-sorted batches reorder them internally
    lengths = fixture_model.tokenizer.count_tokens(texts)
    assert sorted(range(len(texts)), key=lambda i: -lengths[i]) != list(range(len(texts)))
    one_by_one = np.stack([embedder.encode([text], "search", "candidate")[0] for text in texts])
    assert np.abs(vectors - one_by_one).max() <= 1e-5
    reversed_vectors = embedder.encode(texts[::-1], "search", "candidate")
    assert np.abs(reversed_vectors - vectors[::-1]).max() <= 1e-5


def test_batch_size_does_not_change_vectors(fixture_model, texts):
    embedder = Embedder(fixture_model, device="cpu", use_cache=False)
    results = [embedder.encode(texts, "link", "query", batch_size=size) for size in (1, 3, 64)]
    assert np.abs(results[0] - results[1]).max() <= 1e-5
    assert np.abs(results[0] - results[2]).max() <= 1e-5


def test_empty_and_duplicate_inputs(fixture_model):
    embedder = Embedder(fixture_model, device="cpu", use_cache=False)
    assert embedder.encode([], "search", "query").shape == (0, 32)
    vectors = embedder.encode(["same text", "other", "same text"], "search", "query")
    assert np.array_equal(vectors[0], vectors[2]) and not np.array_equal(vectors[0], vectors[1])


def test_bad_expert_or_side(fixture_model):
    embedder = Embedder(fixture_model, device="cpu", use_cache=False)
    with pytest.raises(ValueError, match="unknown expert"):
        embedder.encode(["a"], "summarise", "query")
    with pytest.raises(ValueError, match="unknown side"):
        embedder.encode(["a"], "search", "document")


def test_max_length_truncation(tmp_path, texts):
    path = tmp_path / "vanilla.ckpt"
    [bert] = write_variant(path, None, layers=2)
    embedder = Embedder(open_model(path, TOKENIZER), device="cpu", use_cache=False)
    tokenizer = hf_tokenizer()
    for max_length in (8, 32, 512):
        result = embedder.embed(texts, max_length=max_length)
        too_long = sum(len(tokenizer(text)["input_ids"]) > max_length for text in texts)
        assert result.truncated == too_long
        reference = bert_embeddings(bert, texts, max_length=max_length)
        assert np.abs(result.vectors - reference).max() <= 1e-4
    assert embedder.embed(texts, max_length=8).truncated > embedder.embed(texts).truncated == 1


def test_cache_serves_second_call(fixture_model, texts, cache_root):
    embedder = Embedder(fixture_model, device="cpu")
    assert embedder.cache.path.parent.parent == cache_root
    first = embedder.embed(texts, "classification", "candidate")
    assert first.from_cache == 0
    assert embedder.cache.path.is_file()
    second = embedder.embed(texts, "classification", "candidate")
    assert second.from_cache == len(texts)
    assert np.array_equal(first.vectors, second.vectors)
    assert second.truncated == first.truncated == 1  # counted whether computed or cached
    # a fresh embedder (a new process, say) reads the same file
    again = Embedder(fixture_model, device="cpu").embed(texts, "classification", "candidate")
    assert again.from_cache == len(texts) and np.array_equal(again.vectors, first.vectors)
    # other expert, side or max length: not served from this cache
    assert embedder.embed(texts, "search", "candidate").from_cache == 0
    assert embedder.embed(texts, "classification", "query").from_cache == 0
    assert embedder.embed(texts, "classification", "candidate", max_length=64).from_cache == 0


def test_cache_location_honours_environment(fixture_model, cache_root):
    embedder = Embedder(fixture_model, device="cpu")
    embedder.embed(["one", "two"], "search", "query")
    files = list((cache_root / "embeddings").glob("*.sqlite"))
    assert files == [embedder.cache.path]
    assert files[0].name.startswith(fixture_model.fingerprint)


@pytest.mark.parametrize("garbage", [b"\x00garbage\xff", "not a blob", b"x" * 7, b"\x01" * 128])
def test_corrupt_entry_is_recomputed(fixture_model, texts, cache_root, garbage):
    embedder = Embedder(fixture_model, device="cpu")
    first = embedder.embed(texts, "link", "query")
    embedder.cache.close()
    with sqlite3.connect(embedder.cache.path) as connection:
        key = connection.execute("SELECT key FROM vectors LIMIT 1").fetchone()[0]
        connection.execute("UPDATE vectors SET data = ? WHERE key = ?", (garbage, key))
    connection.close()
    second = Embedder(fixture_model, device="cpu").embed(texts, "link", "query")
    assert second.from_cache == len(texts) - 1
    assert np.abs(second.vectors - first.vectors).max() <= 1e-5  # recomputed alone: no padding
    # the recomputed entry was written back
    assert Embedder(fixture_model, device="cpu").embed(texts, "link", "query").from_cache == len(texts)


def test_corrupt_cache_file_is_moved_aside(fixture_model, texts, cache_root):
    embedder = Embedder(fixture_model, device="cpu")
    first = embedder.embed(texts, "search", "query")
    embedder.cache.close()
    path = embedder.cache.path
    path.write_bytes(b"this is not an SQLite database at all " * 200)
    with pytest.warns(UserWarning, match="damaged"):
        result = Embedder(fixture_model, device="cpu").embed(texts, "search", "query")
    assert result.from_cache == 0
    assert np.abs(result.vectors - first.vectors).max() <= 1e-5
    assert list(path.parent.glob(path.stem + ".corrupt-*"))
    # the new file works
    assert Embedder(fixture_model, device="cpu").embed(texts, "search", "query").from_cache == len(texts)
