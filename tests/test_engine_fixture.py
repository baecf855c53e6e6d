"""The shared fixture: our vectors equal the reference implementation's for every expert and side."""
import json

import numpy as np
import pytest

from scimult_app.engine.embedder import Embedder

EXPERTS = ("search", "link", "classification")
SIDES = ("query", "candidate")


@pytest.fixture(scope="module")
def texts(fixture_dir):
    return [json.loads(line)["text"] for line in (fixture_dir / "texts.jsonl").read_text().splitlines()
            if line.strip()]


@pytest.fixture(scope="module")
def expected(fixture_dir):
    with np.load(fixture_dir / "expected.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def embedder(fixture_model):
    return Embedder(fixture_model, device="cpu", use_cache=False)


def test_fixture_is_what_the_tests_assume(fixture_model, texts, expected):
    assert len(texts) == 12
    assert set(expected) == {f"{e}.{s}" for e in EXPERTS for s in SIDES}
    assert fixture_model.num_experts == 3
    # exactly one text is longer than 512 tokens
    assert sum(n > 512 for n in fixture_model.tokenizer.count_tokens(texts)) == 1


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("expert", EXPERTS)
def test_matches_reference_embeddings(embedder, texts, expected, expert, side):
    result = embedder.embed(texts, expert, side)
    assert result.vectors.dtype == np.float32
    assert result.vectors.shape == (12, 32)
    assert np.abs(result.vectors - expected[f"{expert}.{side}"]).max() <= 1e-4
    assert result.truncated == 1
    assert result.from_cache == 0


def test_input_order_is_preserved(embedder, texts, expected):
    order = np.random.default_rng(3).permutation(len(texts))
    vectors = embedder.encode([texts[i] for i in order], "link", "query", batch_size=5)
    assert np.abs(vectors - expected["link.query"][order]).max() <= 1e-4


def test_experts_give_different_vectors(embedder, texts, expected):
    search = embedder.encode(texts, "search", "query")
    link = embedder.encode(texts, "link", "query")
    classification = embedder.encode(texts, "classification", "query")
    assert np.abs(search - link).max() > 1e-2
    assert np.abs(link - classification).max() > 1e-2
    # the reference's own experts differ too, so the comparison above is meaningful
    assert np.abs(expected["search.query"] - expected["link.query"]).max() > 1e-2
