"""The Evaluate page under Streamlit's AppTest on the built-in default model and the demo data:
the demo judged queries, uploaded queries and judgments, the comparison in words, exports."""
import json

import pytest
from streamlit.testing.v1 import AppTest
from test_app_pages import by_label, open_page

from scimult_app.analysis import evaluation
from scimult_app.analysis.lexical import BM25Index
from scimult_app.corpus import demo
from views._shared import MODEL_KEY


def open_minilm_page(page: str) -> AppTest:
    """A page on minilm: the same model whether or not demo is built."""
    return open_page(page, **{MODEL_KEY: ("minilm", None)})


def texts(elements) -> str:
    return " ".join(element.value for element in elements)


@pytest.fixture(scope="module")
def papers():
    return demo.papers()


def test_evaluate_demo_queries_table_matches_library(papers):
    at = open_minilm_page("evaluate")
    assert at.title[0].value == "Evaluate"
    sidebar = {"Model", "Corpus", "Embedding"}  # the sidebar's own headings
    headings = [h.value for h in at.subheader if h.value not in sidebar]
    assert headings == ["Results", "Is the difference real?", "Where the systems disagree", "Export"]
    # minilm has one expert: search, BM25 and their fusion are selected
    assert by_label(at.multiselect, "Systems").value == ["search", "bm25", "rrf:bm25+search"]
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["nDCG@10", "MRR", "Recall@100", "P@10"]
    assert list(summary.index) == ["search", "bm25", "rrf:bm25+search"]
    queries = {q["id"]: q["text"] for q in demo.queries()}
    judgments = {q["id"]: {doc: 1 for doc in q["relevant"]} for q in demo.queries()}
    runs = evaluation.run_systems(["bm25"], queries, papers, None,
                                  bm25=BM25Index([p.model_input() for p in papers]))
    expected = evaluation.evaluate(runs, queries, judgments, [p.id for p in papers])
    assert summary.loc["bm25", "MRR"] == pytest.approx(expected.means["bm25"]["mrr"])
    assert summary.loc["bm25", "nDCG@10"] == pytest.approx(expected.means["bm25"]["ndcg@10"])
    assert "paired randomization test" in texts(at.success) + texts(at.info)
    disagreement = at.dataframe[1].value
    assert len(disagreement) == len(queries)
    assert "bm25 first relevant rank" in disagreement.columns
    assert list(disagreement["spread"]) == sorted(disagreement["spread"], reverse=True)
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download per-query CSV", "Download metrics JSON", "Download TREC run"]


def test_evaluate_uploaded_trec_topics_and_qrels():
    at = open_minilm_page("evaluate")
    by_label(at.radio, "Judged queries").set_value("Upload files").run()
    assert any("Upload a queries file" in info.value for info in at.info)
    chosen = demo.queries()[:6]
    topics = "".join(f"<top>\n<num> Number: {q['id']}\n<title> {q['text']}\n</top>\n" for q in chosen)
    qrels = "".join(f"{q['id']} 0 {doc} 1\n" for q in chosen for doc in q["relevant"])
    qrels += f"{chosen[0]['id']} 0 paper-not-in-corpus 1\nq-nowhere 0 card-001 1\n"
    by_label(at.file_uploader, "Queries file").set_value(("topics.txt", topics.encode(), "text/plain"))
    by_label(at.file_uploader, "Judgments file (qrels)").set_value(
        ("qrels.txt", qrels.encode(), "text/plain"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "6 queries (TREC topics)" in texts(at.caption)
    warnings = texts(at.warning)
    assert "paper-not-in-corpus" in warnings and "q-nowhere" in warnings
    summary = at.dataframe[0].value
    assert set(summary.index) == {"search", "bm25", "rrf:bm25+search"}
    assert len(at.dataframe[1].value) == 6
    # the comparison says so in words, for the chosen pair
    by_label(at.selectbox, "System A").set_value("bm25")
    by_label(at.selectbox, "System B").set_value("search").run()
    verdict = texts(at.success) + texts(at.info)
    assert "bm25" in verdict and "search" in verdict and "p = " in verdict


def test_evaluate_reports_a_bad_judgments_line():
    at = open_minilm_page("evaluate")
    by_label(at.radio, "Judged queries").set_value("Upload files").run()
    queries = "".join(json.dumps({"_id": q["id"], "text": q["text"]}) + "\n"
                      for q in demo.queries()[:3])
    by_label(at.file_uploader, "Queries file").set_value(("queries.jsonl", queries.encode(),
                                                          "application/json"))
    by_label(at.file_uploader, "Judgments file (qrels)").set_value(
        ("test.tsv", b"query-id\tcorpus-id\tscore\nq-c01\tcard-003\tmaybe\n", "text/plain"))
    at.run()
    assert not at.exception
    assert "test.tsv, line 2" in texts(at.error)


def test_search_shows_bm25_beside_the_expert(papers):
    at = open_minilm_page("search")
    by_label(at.toggle, "Show BM25 beside the expert").set_value(True)
    target = papers[7]
    by_label(at.text_input, "Query").input(target.title).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "BM25 beside the expert" in [h.value for h in at.subheader]
    table = at.dataframe[0].value
    assert list(table.columns) == ["search expert", "BM25", "fused (RRF, BM25 + search)"]
    assert len(table) == 10
    # a paper's own title: BM25 and the expert both put it first, and so does the fusion
    assert table.iloc[0].tolist() == [target.title] * 3
    index = BM25Index([p.model_input() for p in papers])
    order, _ = index.rank(target.title, 10)
    assert table["BM25"].tolist()[:len(order)] == [papers[i].title for i in order]
    overlap = float(by_label(at.metric, "Overlap@10: expert and BM25").value)
    assert 0.1 <= overlap <= 1.0


def test_patients_shows_bm25_beside_the_link_expert():
    at = open_minilm_page("patients")
    by_label(at.toggle, "Show BM25 beside the expert").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Articles: BM25 beside the link expert" in [h.value for h in at.subheader]
    table = at.dataframe[0].value
    assert list(table.columns) == ["link expert", "BM25", "fused (RRF, BM25 + link)"]
    gold_titles = {p.title for p in demo.papers() if p.id in demo.patients()[0]["relevant_articles"]}
    assert any(cell.removeprefix("✓ ") in gold_titles for cell in table["BM25"] if cell.startswith("✓"))
    for label in ("Overlap@10: expert and BM25", "Overlap@10: fused and expert",
                  "Overlap@10: fused and BM25"):
        assert 0.0 <= float(by_label(at.metric, label).value) <= 1.0
    # patient to patient too: the chosen patient is never among its own matches
    assert "Similar patients: BM25 beside the link expert" in [h.value for h in at.subheader]
    patients = at.dataframe[-1].value
    assert list(patients.columns) == list(table.columns)
    first = demo.patients()[0]["text"]
    assert all(not first.startswith(cell.removeprefix("✓ ").rstrip("…")) for column in patients
               for cell in patients[column] if cell)
