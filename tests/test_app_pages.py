"""Every page under Streamlit's AppTest, on the built-in default model and the demo data.

Each test renders a page, drives its main interaction, and checks what it shows against the
library computed independently.
"""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from scimult_app.analysis.labels import evaluate, predict
from scimult_app.analysis.ranking import scores, top_k
from scimult_app.corpus import demo
from scimult_app.corpus.labels import label_texts, read_label_set
from scimult_app.engine.embedder import Embedder

TIMEOUT = 300


def open_page(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def by_label(widgets, label):
    for widget in widgets:
        if widget.label == label:
            return widget
    raise AssertionError(f"no widget labelled {label!r}; have {[w.label for w in widgets]}")


def metric_value(at, label) -> float:
    return float(by_label(at.metric, label).value)


def test_home_shows_model_and_corpus(papers):
    at = open_page()
    assert at.title[0].value == "SciMult Explorer"
    assert by_label(at.metric, "Model").value == "minilm"
    assert metric_value(at, "Papers in “Demo papers”") == len(papers)
    sidebar = " ".join(element.value for element in at.sidebar.caption)
    assert "single expert" in sidebar and "cosine" in sidebar


def test_search_ranks_a_paper_first_for_its_own_title(papers):
    at = open_page("search")
    assert any("Type a query" in info.value for info in at.info)
    target = papers[7]
    by_label(at.text_input, "Query").input(target.title).run()
    assert not at.exception
    cards = [m.value for m in at.markdown if m.value.startswith("**1. ")]
    assert cards == [f"**1. {target.title}**"]
    assert at.get("download_button")


def test_search_filters_by_year(papers):
    at = open_page("search")
    years = sorted({p.year for p in papers})
    middle = years[len(years) // 2]
    by_label(at.slider, "Years").set_value((middle, years[-1]))
    by_label(at.text_input, "Query").input("clinical outcomes").run()
    shown = [m.value for m in at.markdown if m.value[:3] == "**1"]
    kept = [p for p in papers if middle <= p.year]
    assert shown and any(shown[0] == f"**1. {p.title}**" for p in kept)


def test_neighbours_lists_k_papers_without_itself(papers, embedder):
    at = open_page("neighbours", neighbour_paper=papers[0].id)
    titles = [m.value for m in at.markdown if m.value[:2] == "**" and ". " in m.value[:6]]
    assert len(titles) == 10
    assert all(papers[0].title not in title for title in titles)
    vectors_q = embedder.encode([p.model_input() for p in papers[:1]], "link", "query")
    vectors_c = embedder.encode([p.model_input() for p in papers], "link", "candidate")
    indices, _ = top_k(scores(vectors_q, vectors_c, "cosine"), 1, exclude=[0])
    assert titles[0] == f"**1. {papers[indices[0][0]].title}**"


def test_labels_metrics_match_the_library(papers, embedder):
    at = open_page("labels")
    path = demo.label_sets()["Fields of study"]
    labels = read_label_set(path.name, path.read_bytes())
    label_vectors = embedder.encode(label_texts(labels), "classification", "candidate")
    paper_vectors = embedder.encode([p.model_input() for p in papers], "classification", "query")
    indices, _ = predict(paper_vectors, label_vectors, 3, "cosine")
    expected = evaluate([[labels[i].label for i in row] for row in indices],
                        [p.labels for p in papers], 3, label_ids=[label.label for label in labels])
    assert metric_value(at, "Recall@3") == pytest.approx(expected["recall_at_k"], abs=0.006)
    assert metric_value(at, "Accuracy (top-1 in gold)") == pytest.approx(expected["accuracy"], abs=0.006)
    assert expected["accuracy"] > 0.5  # MiniLM puts most demo papers in the right field


def test_patients_show_gold_metrics():
    at = open_page("patients")
    for name in ("PAR recall@10", "PAR MRR", "PPR recall@10", "PPR MRR"):
        assert 0.0 <= metric_value(at, name) <= 1.0
    assert metric_value(at, "PAR recall@10") > 0.3
    before = {name: metric_value(at, name) for name in ("PAR recall@10", "PAR MRR")}
    by_label(at.slider, "Top k").set_value(3).run()
    assert {name: metric_value(at, name) for name in before} == before  # @10 means 10
    assert any("check_circle: gold" in m.value for m in at.markdown)
    assert any("scimult_moe_pmcpatients_par.ckpt" in m.value for m in at.markdown)


def test_map_renders_and_highlights(papers):
    at = open_page("map")
    assert at.get("plotly_chart")
    by_label(at.text_input, "Highlight papers matching").input("sepsis").run()
    assert not at.exception
    caption = " ".join(c.value for c in at.caption)
    assert f"{len(papers)} papers" in caption


def test_experts_page_explains_single_expert_model():
    at = open_page("experts")
    assert any("single expert" in w.value for w in at.warning)
    table = at.dataframe[-1].value
    assert np.allclose(table.to_numpy(dtype=float), 1.0)


def test_corpora_paste_and_keep(tmp_path):
    from scimult_app.corpus.store import CorpusStore
    if "Pasted pair" in CorpusStore().names():  # a cache kept from an earlier run
        CorpusStore().delete("Pasted pair")
    at = open_page("corpora")
    by_label(at.radio, "From").set_value("Paste text").run()
    by_label(at.text_area, "Papers, separated by a blank line").input(
        "Title: Cold-water corals under warming\nAbstract: Reef-building corals in deep fjords "
        "lose skeletal density when bottom water warms.\n\nTitle: Fast graph kernels\n"
        "Abstract: A linear-time kernel for labelled graphs.").run()
    by_label(at.text_input, "Corpus name").input("Pasted pair").run()
    by_label(at.button, "Save corpus").click().run()
    assert not at.exception
    assert any("Saved “Pasted pair” (2 papers)" in s.value for s in at.success)
    assert [d.title for d in CorpusStore().load("Pasted pair")] == [
        "Cold-water corals under warming", "Fast graph kernels"]


def test_train_page_gathers_pairs_and_trains(tmp_path):
    at = open_page("train")
    table = at.dataframe[0].value
    assert set(table["task"]) == {"search", "link", "classification"}
    assert (table["pairs"] > 0).all()
    by_label(at.multiselect, "Tasks").set_value(["classification"])
    by_label(at.slider, "Steps").set_value(10)
    by_label(at.text_input, "Save as").input("apptest-model").run()
    by_label(at.button, "Train").click().run()
    assert not at.exception
    from scimult_app.services.jobs import JOBS
    job = JOBS.get(at.session_state["train_job"])
    assert job is not None and job.wait(TIMEOUT * 5) and job.error is None, job and job.error
    at.run()  # a widget click while training would not have aborted it; the result shows now
    assert any("Trained in" in s.value for s in at.success)
    from scimult_app.models import open_model
    from scimult_app.paths import cache_dir
    trained = list((cache_dir() / "trained").glob("apptest-model*.ckpt"))
    assert len(trained) == 1 and open_model(trained[0], at.session_state["trained_model"][1]).num_experts == 3


def test_checkpoint_upload_is_streamed_to_disk(fixture_dir):
    """An uploaded checkpoint lands on disk byte for byte and then loads like any file."""
    import io

    from scimult_app.models import open_model
    from scimult_app.services.uploads import save_upload
    upload = io.BytesIO((fixture_dir / "model.ckpt").read_bytes())
    upload.name = "uploaded model.ckpt"
    upload.seek(123)  # the widget may have been read before: saving starts from the top
    saved = save_upload(upload, upload.name)
    assert saved.read_bytes() == (fixture_dir / "model.ckpt").read_bytes()
    assert not list(saved.parent.glob("*.part"))
    assert open_model(saved, fixture_dir / "tokenizer").num_experts == 3


def test_patients_without_judged_articles_show_no_metric(tmp_path):
    """Against a corpus holding none of the judged articles: no fake zeros, a message instead."""
    from scimult_app.corpus.documents import Document
    from scimult_app.corpus.store import CorpusStore
    CorpusStore().save("Unrelated", [Document(id=f"x{i}", title=f"Coral reefs {i}",
                                              abstract="Reef growth under warming water.")
                                     for i in range(3)], overwrite=True)
    at = open_page("patients", corpus_name="Unrelated")
    assert not [m for m in at.metric if m.label.startswith("PAR")]
    assert any("none of the" in i.value and "Unrelated" in i.value for i in at.info)
    assert metric_value(at, "PPR recall@10") >= 0.0  # patients are judged against each other


def test_a_replaced_checkpoint_file_is_loaded_anew(tmp_path, fixture_dir):
    """Same path, new contents (a retrained or re-uploaded model): the app serves the new one."""
    import shutil

    from test_engine_identity import _retrained
    path = tmp_path / "model.ckpt"
    shutil.copyfile(fixture_dir / "model.ckpt", path)
    choice = (str(path), str(fixture_dir / "tokenizer"))
    at = open_page(model_choice=choice)
    first = at.session_state["model_choice"]
    from views._shared import cached_embedder
    before = cached_embedder(*first).loaded.fingerprint
    _retrained(fixture_dir / "model.ckpt", path, seed=3)
    at.run()
    assert not at.exception
    after = cached_embedder(*first).loaded.fingerprint
    assert after != before


def test_corpora_says_how_many_rows_have_no_text():
    at = open_page("corpora")
    by_label(at.file_uploader, "CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF or plain text").upload(
        "three.csv", b"id,title,abstract\na,Reef growth,Warm water slows it.\nb,,\n"
                     b"c,Graph kernels,Linear time.\n").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 of 3 rows have no text" in w.value for w in at.warning)


def test_labels_page_warns_that_demo_was_trained_on_its_labels(monkeypatch):
    """Scores of a model on the labels it was trained on carry a caveat (checked via the name)."""
    from views import _shared
    real = _shared.cached_embedder

    def renamed(source, tokenizer):  # minilm standing in for the trained demo model
        from dataclasses import replace
        return Embedder(replace(real(source, tokenizer).loaded, name="demo"))
    monkeypatch.setattr(_shared, "cached_embedder", renamed)
    at = open_page("labels")
    assert any("trained on these labels" in w.value for w in at.warning)
