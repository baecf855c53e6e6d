"""Hard negatives, the reverse masking of citation pairs, and time-aware link evaluation."""
import numpy as np
import pytest

from scimult_app import builtin
from scimult_app.corpus import demo
from scimult_app.corpus.documents import Document
from scimult_app.engine.embedder import Embedder
from scimult_app.models import open_model
from scimult_app.training.evaluation import evaluate_task, uncitable
from scimult_app.training.finetune import training_pairs
from scimult_app.training.pairs import Pair, fold_of, split, with_hard_negatives
from scimult_app.training.trainer import known_positives


@pytest.fixture(scope="module")
def demo_data():
    papers, labels = demo.papers(), builtin.demo_labels()
    pairs = training_pairs(papers, labels, demo.queries())
    return papers, labels, pairs, with_hard_negatives(pairs, papers, labels, 2, seed=5)


def test_classification_negatives_are_every_other_label(demo_data):
    papers, labels, pairs, hard = demo_data
    texts = {label.label: f"{label.name} [SEP] {label.definition}" for label in labels}
    by_id = {paper.id: paper for paper in papers}
    for pair in hard["classification"]:
        own = {texts[name] for name in by_id[pair.query_id].labels if name in texts}
        assert set(pair.negatives) == set(texts.values()) - own
        assert len(pair.negatives) == len(labels) - len(own)


def test_link_negatives_share_a_label_and_are_citable(demo_data):
    papers, _, pairs, hard = demo_data
    by_text = {paper.model_input(): paper for paper in papers}
    by_id = {paper.id: paper for paper in papers}
    with_negatives, same_subfield, total = 0, 0, 0
    for pair in hard["link"]:
        citing, cited = by_id[pair.query_id], by_id[pair.positive_id]
        for text in pair.negatives:
            negative = by_text[text]
            assert negative.labels[0] == cited.labels[0]  # the field, if not the subfield
            same_subfield += negative.labels[1] == cited.labels[1]
            total += 1
            assert negative.id not in citing.extra["cites"] and negative.id != citing.id
            assert negative.year <= citing.year
            assert citing.id not in negative.extra.get("cites", [])
        with_negatives += bool(pair.negatives)
        assert len(pair.negatives) <= 2
    assert with_negatives > len(hard["link"]) / 2 and same_subfield > total / 3
    assert [(p.query_id, p.positive_id) for p in hard["link"]] == \
        [(p.query_id, p.positive_id) for p in pairs["link"]]


def test_search_negatives_are_never_relevant_and_titles_get_none(demo_data):
    papers, _, _, hard = demo_data
    by_text = {paper.model_input(): paper for paper in papers}
    relevant = {query["id"]: set(query["relevant"]) for query in demo.queries()}
    query_pairs = [p for p in hard["search"] if p.query_id in relevant]
    assert query_pairs and all(p.negatives for p in query_pairs)
    for pair in query_pairs:
        assert not {by_text[text].id for text in pair.negatives} & relevant[pair.query_id]
    assert all(not p.negatives for p in hard["search"] if p.query_id == p.positive_id)


def test_hard_negatives_are_reproducible(demo_data):
    papers, labels, pairs, hard = demo_data
    again = with_hard_negatives(pairs, papers, labels, 2, seed=5)
    other = with_hard_negatives(pairs, papers, labels, 2, seed=6)
    assert again == hard and other["link"] != hard["link"]


def test_tasks_left_out_keep_their_pairs(demo_data):
    papers, labels, pairs, _ = demo_data
    some = with_hard_negatives(pairs, papers, labels, 1, seed=5, tasks=("link",))
    assert some["search"] == pairs["search"] and some["classification"] == pairs["classification"]
    assert any(p.negatives for p in some["link"])


def test_a_citer_is_no_negative_for_the_paper_it_cites():
    pairs = [Pair("link", "A", "B"), Pair("link", "B", "C")]
    positives = known_positives(pairs)
    assert positives == {"A": {"B"}, "B": {"C", "A"}}
    assert known_positives([Pair("search", "q", "B")]) == {"q": {"B"}}


def paper(doc_id, year, words):
    return Document(id=doc_id, title=words, abstract=f"{words} findings", year=year)


def test_uncitable_rules_out_self_and_later_papers():
    papers = [paper("a", 2010, "x"), paper("b", 2015, "y"), paper("c", None, "z"),
              paper("d", 2020, "w")]
    pairs = [Pair("link", "", "", query_id="b", positive_id="a"),
             Pair("link", "", "", query_id="c", positive_id="a")]
    assert uncitable(pairs, papers).tolist() == [[False, True, False, True],
                                                 [False, False, True, False]]


def test_link_evaluation_skips_later_papers():
    """A later paper on the same topic outranks the cited one unless time is respected."""
    embedder = Embedder(open_model("minilm"))
    papers = [paper("old", 2005, "gut bacteria in soil"),
              paper("query", 2012, "heart failure drug therapy"),
              paper("later", 2020, "heart failure drug therapy update"),
              paper("cited", 2008, "heart failure diuretic dosing")]
    pairs = [Pair("link", papers[1].model_input(), "", query_id="query", positive_id="cited")]
    ids, texts = [p.id for p in papers], [p.model_input() for p in papers]
    plain = evaluate_task(embedder, "link", pairs, ids, texts, k=1,
                          ruled_out=np.array([[False, True, False, False]]))  # itself only
    timed = evaluate_task(embedder, "link", pairs, ids, texts, k=1,
                          ruled_out=uncitable(pairs, papers))
    assert plain["MRR"] < 1 and timed["MRR"] == 1.0
    assert timed["recall@1"] == 1.0 and np.isclose(plain["recall@1"], 0.0)


def test_folds_partition_the_queries_and_agree_with_the_split():
    keys = [f"q-{n}" for n in range(400)]
    folds = [fold_of(key, 5, 13) for key in keys]
    assert folds == [fold_of(key, 5, 13) for key in keys]  # fixed
    assert set(folds) == set(range(5)) and min(folds.count(f) for f in range(5)) > 50
    assert folds != [fold_of(key, 5, 14) for key in keys]
    # with a fraction of 1/5, the held-out split is exactly fold 0
    pairs = [Pair("search", key, "paper", query_id=key) for key in keys]
    assert [p.query_id for p in split(pairs, 0.2, 13)[1]] == [k for k, f in zip(keys, folds) if f == 0]


def test_demo_folds_cover_the_held_out_split_or_stay_clear_of_it():
    held = {task: {p.query_id for p in pairs}
            for task, pairs in builtin.demo_pairs(held_out=True).items()}
    for task, pairs in builtin.demo_folds(5).items():
        assert {p.query_id for p, fold in pairs if fold == 0} == held[task]
    for task, pairs in builtin.demo_folds(5, within_training=True).items():
        assert not {p.query_id for p, _ in pairs} & held[task]
        assert {fold for _, fold in pairs} == set(range(5))  # no empty fold
