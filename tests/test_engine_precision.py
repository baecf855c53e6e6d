"""bfloat16 embedding: close to float32, never mixed with it in the cache or a vector set."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scimult_app.engine.embedder import Embedder, vectors_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_bfloat16_is_close_to_float32_but_not_equal(minilm, papers):
    texts = [paper.model_input() for paper in papers[:40]]
    exact = Embedder(minilm, device="cpu", use_cache=False).encode(texts)
    fast = Embedder(minilm, device="cpu", use_cache=False, precision="bfloat16").encode(texts)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    assert np.abs(fast - exact).max() > 1e-6  # the products really ran in bfloat16
    assert (unit(fast) * unit(exact)).sum(axis=1).min() > 0.995
    neighbours = [np.argsort(-(unit(v) @ unit(v).T), axis=1)[:, 1:6] for v in (exact, fast)]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(*neighbours)])
    assert overlap >= 0.8


def test_precisions_are_cached_apart(fixture_model, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path))
    texts = ["graph neural networks for molecules", "a cohort study of sepsis outcomes"]
    fast = Embedder(fixture_model, device="cpu", precision="bfloat16")
    exact = Embedder(fixture_model, device="cpu")
    assert fast.fingerprint == vectors_fingerprint(fixture_model.fingerprint, "bfloat16")
    assert fast.fingerprint != exact.fingerprint == fixture_model.fingerprint
    fast.embed(texts)
    result = exact.embed(texts)
    assert result.from_cache == 0  # not served the bfloat16 vectors
    fresh = Embedder(fixture_model, device="cpu", use_cache=False).encode(texts)
    assert np.array_equal(result.vectors, fresh)
    assert fast.embed(texts).from_cache == len(texts)


def test_unknown_precision_is_refused(fixture_model):
    with pytest.raises(ValueError, match="bfloat16"):
        Embedder(fixture_model, device="cpu", precision="float16")


def test_cli_vector_set_remembers_its_precision(fixture_dir, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "a", "text": "protein folding"}\n'
                      '{"id": "b", "text": "sepsis in children"}\n')
    model = ["--checkpoint", str(fixture_dir / "model.ckpt"),
             "--tokenizer", str(fixture_dir / "tokenizer")]

    def scimult(*args):
        return subprocess.run([sys.executable, "-m", "scimult_app", *args, *model], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
    made = scimult("embed", "--input", str(corpus), "--output", str(tmp_path / "set"),
                   "--expert", "search", "--side", "candidate", "--precision", "bfloat16")
    assert made.returncode == 0, made.stderr
    ranked = scimult("rank", "--queries", str(corpus), "--corpus-vectors", str(tmp_path / "set"),
                     "--output", str(tmp_path / "ranks.jsonl"), "--expert", "search")
    assert ranked.returncode != 0
    assert "bfloat16 precision" in ranked.stderr and "--precision bfloat16" in ranked.stderr
    ranked = scimult("rank", "--queries", str(corpus), "--corpus-vectors", str(tmp_path / "set"),
                     "--output", str(tmp_path / "ranks.jsonl"), "--expert", "search",
                     "--precision", "bfloat16")
    assert ranked.returncode == 0, ranked.stderr
    rows = (tmp_path / "ranks.jsonl").read_text().splitlines()
    assert len(rows) == 4 and all('"rank"' in row for row in rows)  # 2 queries x 2 papers
