"""Readable without titles: papers without a title go by their first words, with the id beside
them, on cards, the neighbour graph, the Experts table and exports; label names that repeat
carry their id; the label chart is sorted by count; "hit" only with gold labels."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from scimult_app.analysis.labels import label_names
from scimult_app.corpus.documents import Document, display_label, display_title
from scimult_app.corpus.labels import Label
from scimult_app.corpus.store import CorpusStore

TIMEOUT = 240
CORPUS = "Untitled abstracts"
ABSTRACTS = [
    "Anthracycline chemotherapy damages heart muscle cells and lowers the ejection fraction in "
    "women treated for breast cancer.",
    "Coral reefs in warming oceans lose skeletal density as bottom water temperatures rise.",
    "Deep convolutional networks classify skin lesions as well as trained dermatologists.",
    "Seizures after stroke predict a worse functional outcome at one year in older adults.",
]


def untitled() -> list[Document]:
    return [Document(id=str(4983 + n), abstract=text) for n, text in enumerate(ABSTRACTS)]


@pytest.fixture(scope="module", autouse=True)
def saved_corpus():
    CorpusStore().save(CORPUS, untitled(), overwrite=True)


def open_page(page: str, corpus: str = CORPUS) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.session_state["corpus_name"] = corpus
    at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_display_title_uses_the_first_words():
    doc = Document(id="4983", abstract=ABSTRACTS[0])
    assert display_title(doc) == ("Anthracycline chemotherapy damages heart muscle cells and "
                                  "lowers the ejection…")
    assert display_title(doc, words=3) == "Anthracycline chemotherapy damages…"
    assert display_title(Document(id="x", title="  A  title ", abstract="body")) == "A title"
    assert display_title(Document(id="x", text="Short text")) == "Short text"
    assert display_title(Document(id="only-id")) == "only-id"
    assert display_label(Document(id="7", abstract="Two words", year=2020)) == "Two words (2020) · 7"
    assert display_label(Document(id="only-id")) == "only-id"


def test_repeated_label_names_carry_their_id():
    labels = [Label("cs.LG", "Machine Learning", ""), Label("stat.ML", "Machine Learning", ""),
              Label("cs.CV", "Computer Vision", "")]
    assert label_names(labels) == {"cs.LG": "Machine Learning (cs.LG)",
                                   "stat.ML": "Machine Learning (stat.ML)",
                                   "cs.CV": "Computer Vision"}


def test_search_cards_show_first_words_not_bare_ids():
    at = open_page("search")
    at.text_input[0].input("heart damage from chemotherapy").run()
    assert not at.exception
    cards = [m.value for m in at.markdown if m.value.startswith("**1. ")]
    assert cards == ["**1. Anthracycline chemotherapy damages heart muscle cells and lowers the "
                     "ejection…**"]
    assert any("id `4983`" in c.value for c in at.caption)


def test_neighbour_graph_and_picker_show_first_words():
    at = open_page("neighbours")
    picker = at.selectbox[0]
    assert picker.options[0].startswith("Anthracycline chemotherapy") and "· 4983" in picker.options[0]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    node_text = spec["data"][-1]["text"]
    assert "Anthracycline chemotherapy damages heart…" in node_text
    assert not set(node_text) & {doc.id for doc in untitled()}


def test_experts_table_shows_first_words_with_ids():
    at = open_page("experts")
    ranked = next(frame.value for frame in at.dataframe
                  if list(frame.value.columns) == ["search", "link", "classification"])
    cells = [str(cell) for cell in ranked.to_numpy().ravel()]
    assert cells and all(" · 49" in cell and "…" in cell for cell in cells)


def test_labels_without_gold_have_no_hit_column_and_names_carry_ids():
    at = open_page("labels")
    at.radio[0].set_value("Upload a label set").run()
    label_set = "\n".join(json.dumps(row) for row in [
        {"label": "cs.LG", "name": "Machine Learning", "definition": "learning algorithms"},
        {"label": "stat.ML", "name": "Machine Learning", "definition": "statistical learning"},
        {"label": "q-bio", "name": "Biology", "definition": "hearts, cells, reefs and brains"}])
    at.file_uploader[0].upload("arxiv.jsonl", label_set.encode()).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table.columns) == ["id", "title", "predicted"]  # no gold, so no gold or hit
    assert table["title"][0].startswith("Anthracycline chemotherapy")
    predicted = " ".join(table["predicted"])
    assert "Machine Learning (" in predicted or "Biology" in predicted
    assert "Machine Learning (" not in predicted.replace("Machine Learning (cs.LG)", "").replace(
        "Machine Learning (stat.ML)", "")
    chart = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert chart["encoding"]["y"]["sort"] == {"field": "count", "order": "descending"}


def test_labels_with_gold_show_gold_and_hit():
    at = open_page("labels", corpus="Demo papers")
    table = at.dataframe[0].value
    assert list(table.columns) == ["id", "title", "predicted", "gold", "hit"]
    assert table["hit"].notna().any()
