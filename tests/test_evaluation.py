"""Evaluation on tiny judged sets: metrics by hand, every query and judgment format, BM25, RRF by
hand, the randomization test's sanity, and the report's problems named."""
import math

import numpy as np
import pytest

from scimult_app.analysis import evaluation
from scimult_app.analysis.compare import overlap_at_k
from scimult_app.analysis.fusion import reciprocal_rank_fusion
from scimult_app.analysis.lexical import BM25Index, beside_dense
from scimult_app.analysis.metrics import first_relevant_rank, ndcg_at_k, query_metrics
from scimult_app.analysis.significance import in_words, randomization_test
from scimult_app.corpus import demo
from scimult_app.corpus.documents import Document
from scimult_app.corpus.judgments import (
    judgments_from_queries,
    parse_judged_queries,
    parse_qrels,
    qrels_text,
    read_judged_queries,
    read_qrels,
)
from scimult_app.errors import InputError

# ---- metrics ---------------------------------------------------------------------------------


def test_ndcg_graded_by_hand():
    ranked = ["a", "b", "c", "d"]
    grades = {"b": 2, "d": 1, "z": 1, "a": 0}
    # DCG: b (grade 2) at rank 2, d (grade 1) at rank 4; ideal: 2, 1, 1 at ranks 1, 2, 3
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, grades, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranked, grades, 10) == pytest.approx(0.5406, abs=1e-4)
    # at k=1 nothing relevant is ranked; the ideal keeps only its best grade
    assert ndcg_at_k(ranked, grades, 1) == 0.0
    assert ndcg_at_k(["b", "d", "z"], grades, 10) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, {"a": 0}, 10) == 0.0
    assert ndcg_at_k([], grades, 10) == 0.0


def test_query_metrics_by_hand():
    ranked = ["x1", "r1", "x2", "r2"] + [f"x{i}" for i in range(3, 120)] + ["r3"]
    grades = {"r1": 1, "r2": 1, "r3": 1, "n": 0}
    values = query_metrics(ranked, grades)
    assert values["mrr"] == pytest.approx(1 / 2)
    assert values["p@10"] == pytest.approx(2 / 10)
    assert values["recall@100"] == pytest.approx(2 / 3)  # r3 is at rank 121
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert values["ndcg@10"] == pytest.approx(dcg / ideal)
    assert values["first_relevant_rank"] == 2
    assert first_relevant_rank(["a", "b"], {"z"}) is None
    # P@10 divides by 10 even when fewer than 10 papers are ranked
    assert query_metrics(["r1"], grades)["p@10"] == pytest.approx(0.1)


# ---- query files -----------------------------------------------------------------------------


def test_queries_jsonl_and_beir():
    plain = parse_judged_queries('{"id": "q1", "text": "heart failure", "relevant": ["p1", "p2"]}\n\n'
                          '{"id": "q2", "text": "  sepsis   lactate "}\n', "q.jsonl")
    assert plain.texts == {"q1": "heart failure", "q2": "sepsis lactate"}
    assert judgments_from_queries(plain, "q.jsonl").grades == {"q1": {"p1": 1, "p2": 1}}
    beir = parse_judged_queries('{"_id": "7", "text": "covid transmission", "metadata": {}}\n'
                         '{"_id": "8", "text": "vaccine efficacy", "metadata": {"x": 1}}\n',
                         "queries.jsonl")
    assert beir.texts == {"7": "covid transmission", "8": "vaccine efficacy"}
    with pytest.raises(InputError, match="queries.jsonl"):
        judgments_from_queries(beir, "queries.jsonl")


def test_queries_trec_topics_classic_and_xml():
    classic = """<top>
<num> Number: 301
<title> International Organized Crime

<desc> Description:
Identify organizations.
<narr> Narrative:
A relevant document...
</top>

<top>
<num> Number: 302 <title> Poliomyelitis and Post-Polio
</top>
"""
    topics = parse_judged_queries(classic, "topics.txt")
    assert topics.texts == {"301": "International Organized Crime",
                            "302": "Poliomyelitis and Post-Polio"}
    xml = """<topics>
  <topic number="1">
    <query>coronavirus origin</query>
    <question>what is the origin of COVID-19</question>
  </topic>
  <topic number="2"><query>coronavirus response to weather changes</query></topic>
</topics>"""
    assert parse_judged_queries(xml, "topics.xml").texts == {
        "1": "coronavirus origin", "2": "coronavirus response to weather changes"}


def test_queries_tab_separated_with_and_without_header():
    assert parse_judged_queries("q1\tfirst query\nq2\tsecond query\n", "q.tsv").texts == {
        "q1": "first query", "q2": "second query"}
    assert parse_judged_queries("qid\ttext\nq1\tfirst query\n", "q.tsv").texts == {"q1": "first query"}


@pytest.mark.parametrize("content, line, words", [
    ('{"id": "q1", "text": "a"}\n{"id": "q2", "text": \n', 2, "not valid JSON"),
    ('{"id": "q1", "text": "a"}\n{"id": "q1", "text": "b"}\n', 2, "appears twice"),
    ('{"text": "no id"}\n', 1, "no 'id'"),
    ("q1\tfine\nq2 no tab here\n", 2, "query id<TAB>query text"),
])
def test_query_errors_name_file_and_line(content, line, words):
    with pytest.raises(InputError) as error:
        parse_judged_queries(content, "my_queries.txt")
    assert f"my_queries.txt, line {line}" in str(error.value) and words in str(error.value)


def test_read_queries_from_disk(tmp_path):
    path = tmp_path / "queries.tsv"
    path.write_bytes("\ufeffq1\tbrain tumour\n".encode())
    assert read_judged_queries(path).texts == {"q1": "brain tumour"}
    with pytest.raises(InputError, match="no such file"):
        read_judged_queries(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        read_judged_queries(tmp_path / "empty.jsonl")


# ---- judgment files --------------------------------------------------------------------------


def test_qrels_beir_with_header_tabs():
    judgments = parse_qrels("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\t0\n", "test.tsv")
    assert judgments.grades == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}
    assert judgments.relevant("q1") == {"d1", "d2"} and judgments.relevant("q2") == set()
    assert judgments.format.startswith("BEIR")


def test_qrels_beir_without_header_spaces():
    assert parse_qrels("q1 d1 1\nq1  d2 1.0\n", "test.tsv").grades == {"q1": {"d1": 1, "d2": 1}}


def test_qrels_trec_without_and_with_header():
    trec = parse_qrels("301 0 FBIS3-10082 1\n301 0 FBIS3-10169 0\n302\t0\tLA-1\t2\n", "qrels.txt")
    assert trec.grades == {"301": {"FBIS3-10082": 1, "FBIS3-10169": 0}, "302": {"LA-1": 2}}
    assert trec.format.startswith("TREC")
    headed = parse_qrels("qid iter docno rel\n301 0 D1 1\n", "qrels.txt")
    assert headed.grades == {"301": {"D1": 1}}


def test_qrels_repeated_pair_is_noted():
    judgments = parse_qrels("q1 d1 1\nq1 d1 2\n", "r.tsv")
    assert judgments.grades == {"q1": {"d1": 2}}
    assert len(judgments.notes) == 1 and "line 2" in judgments.notes[0]


@pytest.mark.parametrize("content, line, words", [
    ("q1 d1 1\nq1 d2\n", 2, "found 2"),
    ("q1 d1 1\nq1 d2 high\n", 2, "not a whole number"),
    ("q1 d1 1\nq1 0 d2 1\n", 2, "use one format"),
    ("q1 d1 1\nq1 d2 0.5\n", 2, "not a whole number"),
    ("query-id corpus-id score\nq1 d1 yes\n", 2, "not a whole number"),
])
def test_qrels_errors_name_file_and_line(content, line, words):
    with pytest.raises(InputError) as error:
        parse_qrels(content, "judged.tsv")
    assert f"judged.tsv, line {line}" in str(error.value) and words in str(error.value)


def test_qrels_round_trip_and_empty(tmp_path):
    grades = {"q1": {"d1": 1, "d2": 2}, "q2": {"d9": 1}}
    path = tmp_path / "qrels.tsv"
    path.write_text(qrels_text(grades))
    assert read_qrels(path).grades == grades
    with pytest.raises(InputError, match="no judgments"):
        parse_qrels("query-id corpus-id score\n", "only_header.tsv")


# ---- BM25, RRF, significance -----------------------------------------------------------------

PAPERS = [
    Document("p1", "Heart failure diuretics", "Loop diuretics in decompensated heart failure."),
    Document("p2", "Sepsis antibiotics", "Early antibiotics and lactate in septic shock."),
    Document("p3", "Graph neural networks", "Message passing on molecular graphs."),
    Document("p4", "Atrial fibrillation", "Anticoagulation prevents stroke in atrial fibrillation."),
]


def test_bm25_stems_and_skips_unmatched():
    index = BM25Index([p.model_input() for p in PAPERS])
    order, values = index.rank("failing hearts", 10)
    assert list(order) == [0] and values[0] > 0  # stemmed: failing -> fail, hearts -> heart
    order, _ = index.rank("anticoagulants for strokes", 10)
    assert list(order) == [3]
    assert len(index.rank("quantum chromodynamics", 10)[0]) == 0
    assert len(index.rank("the and of", 10)[0]) == 0  # stop words only
    assert index.scores("").shape == (4,)
    assert BM25Index([]).rank("heart", 5)[0].size == 0


def test_rrf_by_hand():
    a, b = ["d1", "d2", "d3"], ["d3", "d1", "d4"]
    fused = reciprocal_rank_fusion([a, b], k=60)
    # d1: 1/61 + 1/62; d3: 1/63 + 1/61; d2: 1/62; d4: 1/63
    assert [doc for doc, _ in fused] == ["d1", "d3", "d2", "d4"]
    assert dict(fused) == pytest.approx({"d1": 1 / 61 + 1 / 62, "d3": 1 / 63 + 1 / 61,
                                         "d2": 1 / 62, "d4": 1 / 63})
    assert reciprocal_rank_fusion([a, b], k=60, depth=2) == fused[:2]
    # k decides between one top rank and two middling ones: x at ranks 1 and 10, y at 3 and 3
    first = ["x", "a1", "y"]
    second = ["b1", "b2", "y", "b3", "b4", "b5", "b6", "b7", "b8", "x"]
    # k = 60: y = 2/63 = 0.03175 beats x = 1/61 + 1/70 = 0.03068
    assert [doc for doc, _ in reciprocal_rank_fusion([first, second], k=60)][:2] == ["y", "x"]
    # k = 0: x = 1 + 1/10 = 1.1, then b1 = 1, then y = 2/3
    assert [doc for doc, _ in reciprocal_rank_fusion([first, second], k=0)][:3] == ["x", "b1", "y"]
    # a tie goes to the better single rank, then the earlier list
    assert [doc for doc, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert reciprocal_rank_fusion([[], []]) == []


def test_randomization_identical_systems_give_p_1():
    values = [0.1, 0.5, 0.9, 0.3] * 10
    test = randomization_test(values, values)
    assert test.p_value == 1.0 and test.difference == 0.0
    assert "same mean" in in_words("a", "b", "nDCG@10", test)


def test_randomization_clearly_different_systems_give_small_p():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.6, 1.0, size=40)
    b = a - rng.uniform(0.3, 0.5, size=40)
    test = randomization_test(a, b, trials=2000)
    assert test.p_value <= 1 / 2001 + 1e-12 and not test.exact
    words = in_words("search", "bm25", "nDCG@10", test)
    assert words.startswith("search is better than bm25") and "beyond noise" in words
    assert "p ≤ 0.0005" in words  # no random flip was as extreme: p is at most 1 / 2001


def test_randomization_exact_on_few_queries():
    # five queries, all a - b = +1: only the all-plus and all-minus flips reach |mean| = 1
    test = randomization_test([1, 1, 1, 1, 1], [0, 0, 0, 0, 0])
    assert test.exact and test.p_value == pytest.approx(2 / 32)
    assert "within noise" in in_words("a", "b", "MRR", test)
    # a mix that cancels: the observed mean 0 is matched by every flip
    assert randomization_test([1, 0], [0, 1]).p_value == 1.0


# ---- running systems and the report ----------------------------------------------------------

VOCABULARY = ["heart", "failure", "sepsis", "antibiotics", "graph", "stroke", "fibrillation"]


def bag_of_words(texts, expert, side):
    """A stand-in encoder: word counts over a fixed vocabulary."""
    return np.array([[text.lower().count(word) for word in VOCABULARY] for text in texts],
                    dtype=np.float32) + 1e-3


def test_run_systems_and_report_name_every_problem():
    queries = {"q1": "heart failure", "q2": "septic antibiotics", "q3": "zzz", "q4": "graphs"}
    judgments = {"q1": {"p1": 2, "p4": 1}, "q2": {"p2": 1, "missing-paper": 1}, "q3": {"p3": 1},
                 "q4": {"p3": 0}, "q-unknown": {"p1": 1}}
    runs = evaluation.run_systems(evaluation.DEFAULT_SYSTEMS, queries, PAPERS, bag_of_words,
                                  "dot", depth=3)
    assert set(runs) == set(evaluation.DEFAULT_SYSTEMS)
    assert [doc for doc, _ in runs["search"]["q1"]][0] == "p1"
    assert len(runs["search"]["q1"]) == 3  # depth
    assert runs["bm25"]["q3"] == []  # no shared word: an empty run
    fused = [doc for doc, _ in runs["rrf:bm25+search"]["q2"]]
    assert fused[0] == "p2"
    report = evaluation.evaluate(runs, queries, judgments, [p.id for p in PAPERS])
    assert report.query_ids == ["q1", "q2", "q3"]  # q4 has no relevant judgment
    assert report.problems["unknown_documents"] == {"q2": ["missing-paper"]}
    assert report.problems["unknown_queries"] == ["q-unknown"]
    assert report.problems["unjudged_queries"] == ["q4"]
    assert report.problems["empty_runs"] == {"bm25": ["q3"]}
    lines = " ".join(evaluation.problem_lines(report))
    for name in ("missing-paper", "q-unknown", "q4", "bm25 retrieved nothing for 1 query"):
        assert name in lines
    # per-query values are the metrics of each ranking; means average them
    for name, run in runs.items():
        for q in report.query_ids:
            expected = query_metrics([doc for doc, _ in run[q]], judgments[q])
            assert report.per_query[name][q] == pytest.approx(expected)
        assert report.means[name]["mrr"] == pytest.approx(
            np.mean([report.per_query[name][q]["mrr"] for q in report.query_ids]))
    # q2's judged paper that is not in the corpus counts as never retrieved
    assert report.per_query["search"]["q2"]["recall@100"] == pytest.approx(0.5)
    as_json = evaluation.as_json(report)
    assert set(as_json["systems"]["bm25"]) == {"ndcg@10", "mrr", "recall@100", "p@10", "per_query"}
    assert evaluation.compare(report, "search", "search").p_value == 1.0


def test_tables_and_exports():
    queries = {"q1": "heart failure", "q2": "sepsis antibiotics"}
    judgments = {"q1": {"p1": 1}, "q2": {"p3": 1}}
    runs = {"good": {"q1": [("p1", 2.0), ("p2", 1.0)], "q2": [("p3", 1.0)]},
            "poor": {"q1": [("p1", 2.0)], "q2": [("p2", 3.0), ("p1", 2.0), ("p3", 1.0)]}}
    report = evaluation.evaluate(runs, queries, judgments, ["p1", "p2", "p3"])
    table = evaluation.disagreements(report, queries)
    assert list(table["query_id"]) == ["q2", "q1"]  # q2: ranks 1 and 3, q1: both rank 1
    assert list(table["poor first relevant rank"]) == [3, 1]
    assert table.loc[0, "spread"] == pytest.approx(1 - 1 / math.log2(4))
    summary = evaluation.summary_table(report)
    assert list(summary.columns) == ["nDCG@10", "MRR", "Recall@100", "P@10"]
    assert summary.loc["poor", "MRR"] == pytest.approx((1 + 1 / 3) / 2)
    long = evaluation.per_query_table(report, queries)
    assert len(long) == 4 and "query" in long.columns
    assert evaluation.trec_run(runs["poor"], "poor").splitlines() == [
        "q1 Q0 p1 1 2.000000 poor", "q2 Q0 p2 1 3.000000 poor", "q2 Q0 p1 2 2.000000 poor",
        "q2 Q0 p3 3 1.000000 poor"]
    assert evaluation.file_stem("rrf:bm25+search") == "rrf_bm25+search"


def test_system_names():
    assert evaluation.parse_system("rrf: bm25 + link").name == "rrf:bm25+link"
    assert evaluation.uses_experts(["bm25"]) is False
    assert evaluation.uses_experts(["rrf:bm25+search"]) is True
    for bad in ("dense", "rrf:bm25", "rrf:bm25+rrf:x+y"):
        with pytest.raises(InputError):
            evaluation.parse_system(bad)
    assert "rrf:bm25+classification" in evaluation.system_options()


def test_demo_qrels_match_the_demo_files():
    root = demo.DATA_DIR
    queries = {q["id"]: {doc: 1 for doc in q["relevant"]} for q in demo.queries()}
    assert read_qrels(root / "qrels.tsv").grades == queries
    patients = {p["id"]: {doc: 1 for doc in p["relevant_articles"]} for p in demo.patients()}
    assert read_qrels(root / "patients_qrels.tsv").grades == patients
    assert set(read_judged_queries(root / "patients.jsonl").texts) == set(patients)


def test_demo_heldout_qrels_are_the_demo_models_unseen_queries():
    from scimult_app import builtin
    held_out = {pair.query_id for pair in builtin.demo_pairs(held_out=True)["search"]}
    heldout_qrels = read_qrels(demo.DATA_DIR / "qrels_heldout.tsv").grades
    assert set(heldout_qrels) == held_out
    everything = read_qrels(demo.DATA_DIR / "qrels.tsv").grades
    assert all(everything[q] == grades for q, grades in heldout_qrels.items())


def test_bm25_beside_dense_respects_filters_and_fuses():
    index = BM25Index([p.model_input() for p in PAPERS])
    ids = [p.id for p in PAPERS]
    dense = ["p4", "p2", "p1", "p3"]
    lexical, fused = beside_dense(index, "heart failure and stroke", dense, ids, 2)
    assert set(lexical) == {"p1", "p4"}
    # p4: dense rank 1, BM25 rank 1 or 2; fused top 2 holds both papers BM25 found
    assert fused[0] == "p4" and set(fused) == {"p1", "p4"}
    allowed = np.array([False, True, True, True])
    lexical, _ = beside_dense(index, "heart failure and stroke", dense, ids, 2, allowed=allowed)
    assert lexical == ["p4"]
    assert overlap_at_k(dense, lexical, 2) == 0.5
