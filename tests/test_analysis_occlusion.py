"""Why this match: sentence and word splitting, and occlusion deltas on the tiny fixture model
against score differences computed directly through the model's towers."""
import numpy as np
import pytest
import torch

from scimult_app.analysis.occlusion import (
    explain_paper,
    explain_query,
    paper_units,
    query_units,
    split_sentences,
    split_words,
    without,
)
from scimult_app.corpus.documents import Document
from scimult_app.engine.embedder import Embedder
from scimult_app.engine.loading import load_model
from scimult_app.engine.model import pool

ABSTRACT = ("Loop diuretics relieve congestion, e.g. in decompensated heart failure. We compared "
            "infusion with bolus dosing (Smith et al. 2004) in 240 adults! Did kidney function "
            "worsen? About 20.5% of patients had a rise in creatinine.")


def test_split_sentences_keeps_abbreviations_and_decimals():
    spans = split_sentences(ABSTRACT)
    assert [ABSTRACT[a:b] for a, b in spans] == [
        "Loop diuretics relieve congestion, e.g. in decompensated heart failure.",
        "We compared infusion with bolus dosing (Smith et al. 2004) in 240 adults!",
        "Did kidney function worsen?",
        "About 20.5% of patients had a rise in creatinine."]
    assert split_sentences("  one sentence without a stop ") == [(2, 29)]
    assert split_sentences("") == []
    assert split_sentences("Fig. 2 shows it. Then J. Smith agreed.") == [(0, 16), (17, 38)]


def test_words_units_and_removal():
    assert split_words(" heart  failure\tdrugs") == [(1, 6), (8, 15), (16, 21)]
    assert without("heart failure drugs", 6, 13) == "heart drugs"
    assert without("heart failure", 0, 5) == "failure"
    assert query_units("a b c") == [(0, 1), (2, 3), (4, 5)]
    long_query = ABSTRACT  # 40 words: explained by sentence
    assert query_units(long_query, max_words=10) == split_sentences(long_query)
    doc = Document(id="1", title="Diuretics", abstract=ABSTRACT)
    assert paper_units(doc)[0] == ("title", 0, 9) and len(paper_units(doc)) == 5
    assert [u[0] for u in paper_units(Document(id="2", text="One. Two."))] == ["text", "text"]


@pytest.fixture(scope="module")
def tiny(fixture_dir):
    return load_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer")


def direct_vector(loaded, text: str, expert: str, side: str) -> np.ndarray:
    """One text through the model's tower, unbatched, no cache: the reference path."""
    ids, _ = loaded.tokenizer.encode([text], loaded.max_length)
    input_ids = torch.tensor(ids)
    mask = torch.ones_like(input_ids)
    with torch.inference_mode():
        hidden = loaded.model.tower(side)(input_ids, mask, loaded.expert_index(expert))
        return pool(hidden, mask, loaded.mean_pool)[0].numpy()


def direct_score(loaded, query: str, candidate: str, expert: str) -> float:
    assert loaded.score_function == "dot"  # the fixture: raw [CLS] vectors, dot product
    return float(direct_vector(loaded, query, expert, "query")
                 @ direct_vector(loaded, candidate, expert, "candidate"))


@pytest.mark.parametrize("expert", ["search", "classification"])
def test_paper_occlusion_matches_direct_score_difference(tiny, expert):
    embedder = Embedder(tiny, use_cache=False)
    doc = Document(id="p", title="Diuretic dosing in heart failure", abstract=ABSTRACT)
    query = "loop diuretic infusion"
    explanation = explain_paper(embedder, query, doc, expert)
    full = direct_score(tiny, query, f"{doc.title} [SEP] {ABSTRACT}", expert)
    assert explanation.score == pytest.approx(full, abs=1e-4)
    assert [u.part for u in explanation.units] == ["title"] + ["abstract"] * 4
    sentences = [ABSTRACT[a:b] for a, b in split_sentences(ABSTRACT)]
    for number, unit in enumerate(explanation.units):
        if number == 0:
            occluded = ABSTRACT  # no title: the model reads the abstract alone
        else:
            occluded = f"{doc.title} [SEP] " + " ".join(
                s for i, s in enumerate(sentences) if i != number - 1)
        assert unit.delta == pytest.approx(full - direct_score(tiny, query, occluded, expert),
                                           abs=1e-4), unit.text
    # the deltas are well above the tolerance: the comparison above means something
    assert max(abs(unit.delta) for unit in explanation.units) > 3e-3
    weights = explanation.weights()
    assert max(abs(w) for w in weights) == pytest.approx(1.0)
    assert explanation.top(1)[0].delta == max(u.delta for u in explanation.units)


def test_query_word_occlusion_matches_direct_score_difference(tiny):
    embedder = Embedder(tiny, use_cache=False)
    candidate = f"Diuretic dosing [SEP] {ABSTRACT}"
    query = "loop diuretic infusion kidney"
    explanation = explain_query(embedder, query, candidate, "link")
    full = direct_score(tiny, query, candidate, "link")
    words = query.split()
    assert [u.text for u in explanation.units] == words
    for i, unit in enumerate(explanation.units):
        occluded = " ".join(w for j, w in enumerate(words) if j != i)
        assert unit.delta == pytest.approx(full - direct_score(tiny, occluded, candidate, "link"),
                                           abs=1e-4)


def test_occlusion_differs_between_experts(tiny):
    embedder = Embedder(tiny, use_cache=False)
    doc = Document(id="p", title="Diuretic dosing", abstract=ABSTRACT)
    deltas = {expert: [u.delta for u in explain_paper(embedder, "kidney", doc, expert).units]
              for expert in ("search", "link")}
    assert not np.allclose(deltas["search"], deltas["link"])
