"""Big corpora in the app: pages wait for the background embedding and say so; the density map;
the sampled projection and the selection of every point in an area."""
import uuid

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from scimult_app.analysis.projection import (
    cached_project_keyed,
    density,
    marker_rows,
    project_sampled,
)
from scimult_app.analysis.selection import rows_in_region
from scimult_app.corpus import demo
from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import CorpusStore
from scimult_app.services import embedding_job

TIMEOUT = 240
CORPUS = "Forty reef and heart papers"
TOPICS = ["coral reef bleaching under warming seas", "heart failure and ventricular assist devices",
          "sepsis in the intensive care unit", "graph neural networks for molecules"]


def forty_papers():
    return [Document(id=f"r{i}", title=f"{TOPICS[i % 4].capitalize()}, study {i}",
                     abstract=f"We report study {i} on {TOPICS[i % 4]} with {i + 3} cohorts.",
                     year=2000 + i % 20, labels=[TOPICS[i % 4].split()[0]])
            for i in range(40)]


@pytest.fixture
def big_corpus(monkeypatch):
    """A stored corpus above the inline limit (lowered to 20 papers for the test)."""
    monkeypatch.setattr(embedding_job, "INLINE_MAX", 20)
    store = CorpusStore()
    store.save(CORPUS, forty_papers(), overwrite=True)
    return store


def open_page(page, **state):
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_for_embedding():
    for job in embedding_job.embedding_jobs(running_only=False):
        assert job.wait(TIMEOUT), "the embedding job did not finish"
        assert job.error is None, job.error


def test_search_waits_for_the_job_then_ranks(big_corpus):
    at = open_page("search", corpus_name=CORPUS)
    at.text_input[0].input("sepsis in the intensive care unit").run()
    assert not at.exception, [e.value for e in at.exception]
    said = " ".join(w.value for w in at.info)
    if "Top" not in " ".join(h.value for h in at.subheader):  # still embedding
        assert CORPUS in said and ("Embedding" in said or "no vectors" in said or "waits" in said)
    wait_for_embedding()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    heading = " ".join(h.value for h in at.subheader)
    assert "Top 10 of 40 papers" in heading
    assert "sepsis" in at.markdown[0].value.lower() or any(
        "Sepsis" in m.value for m in at.markdown)


def test_map_of_a_big_corpus_is_a_density_with_stated_points(big_corpus, monkeypatch):
    monkeypatch.setenv("SCIMULT_APP_MAP_POINTS", "10")  # 40 papers count as big here
    open_page("search", corpus_name=CORPUS)
    for job in embedding_job.embedding_jobs(running_only=False):
        job.wait(TIMEOUT)
    at = open_page("map", corpus_name=CORPUS)
    at.run()  # a job for the link expert may have started on the first visit
    wait_for_embedding()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart")
    caption = " ".join(c.value for c in at.caption)
    assert "40 papers" in caption and "shading counts every paper" in caption
    assert "random 40 of them drawn as points" in caption
    box = [t for t in at.text_input if t.label == "Highlight papers matching"][0]
    box.input("sepsis").run()
    caption = " ".join(c.value for c in at.caption)
    assert "all 10 papers matching “sepsis” drawn as points" in caption


def big_page(page, monkeypatch):
    """A page of the 40-paper corpus counted as big (above 10 papers), its maps fitted on 20."""
    monkeypatch.setenv("SCIMULT_APP_MAP_POINTS", "10")
    monkeypatch.setenv("SCIMULT_APP_MAP_SAMPLE", "20")
    at = open_page(page, corpus_name=CORPUS)
    for _ in range(4):  # each visit may start a job for another expert or side
        wait_for_embedding()
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_big_map_offers_clusters_fitted_on_its_sample(big_corpus, monkeypatch):
    at = big_page("map", monkeypatch)
    caption = " ".join(c.value for c in at.caption)
    assert "random sample of 20 of the 40 papers" in caption and "10 nearest sampled" in caption
    colour = [s for s in at.selectbox if s.label == "Colour by"][0]
    assert "cluster" in colour.options
    colour.set_value("cluster").run()
    wait_for_embedding()  # the classification vectors that name the clusters
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    caption = " ".join(c.value for c in at.caption)
    assert "Clustered on the 20 papers UMAP was fitted on (HDBSCAN" in caption
    [r for r in at.radio if r.label == "Clusters"][0].set_value("KMeans on the vectors").run()
    [n for n in at.number_input if n.label == "Clusters (k)"][0].set_value(4).run()
    assert not at.exception, [e.value for e in at.exception]
    caption = " ".join(c.value for c in at.caption)
    assert "KMeans on their first principal components" in caption
    table = at.dataframe[0].value
    assert len(table) == 4 and table["papers"].sum() == 40  # every paper in a cluster
    assert all(name for name in table["name"])


def test_big_experts_page_reads_sampled_maps_and_samples_queries(big_corpus, monkeypatch):
    at = big_page("experts", monkeypatch)
    caption = " ".join(c.value for c in at.caption)
    assert "random sample of 20 of the 40 papers" in caption  # the Map page's sampled maps
    assert "10 nearest neighbours of every paper" in caption  # 40 papers: all are queries
    assert len(at.get("plotly_chart")) >= 4  # three maps and the moving one


def test_cancelled_embedding_offers_resume(big_corpus):
    from scimult_app.models import open_model
    loaded = open_model("minilm")
    wait_for_embedding()  # jobs of earlier tests
    name = f"Cancel test {uuid.uuid4().hex[:8]}"  # a corpus no earlier run has embedded
    big_corpus.save(name, forty_papers())
    job = embedding_job.start_embedding(big_corpus, name, loaded, "classification", "query",
                                        ("minilm", None))
    embedding_job.cancel(job)
    job.wait(TIMEOUT)
    if job.error != "cancelled":
        pytest.skip("the job finished before the cancel reached it")
    at = open_page("labels", corpus_name=name)
    said = " ".join(w.value for w in at.info)
    assert "cancelled" in said
    assert any(b.label == "Resume embedding" for b in at.button)
    [b for b in at.button if b.label == "Resume embedding"][0].click().run()
    wait_for_embedding()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_big_corpus_paper_picker_searches_and_keeps_the_map_link(papers, monkeypatch):
    """Above SCIMULT_APP_PICKER_MAX papers (10 here, so the 152 demo papers count as big) the
    Neighbours picker lists what a search finds (at most PICKER_SHOWN, 5 here), never the
    whole corpus, and a paper set by the Map (its id in session state) is still opened."""
    import views._shared as shared
    monkeypatch.setenv("SCIMULT_APP_PICKER_MAX", "10")
    monkeypatch.setattr(shared, "PICKER_SHOWN", 5)
    at = open_page("neighbours")
    picker = at.selectbox(key="neighbour_picker")
    assert len(picker.options) == 5 and picker.value == 0
    assert f"{len(papers)} papers: the first 5 are listed" in " ".join(c.value for c in at.caption)

    def card_shows(paper):
        return f"**{paper.title}**" in [m.value for m in at.markdown]

    # words of a title: the matches are listed (the chosen paper first), capped, and counted
    target = papers[101]
    at.text_input(key="neighbour_picker_query").input("dilated convolutions scene").run()
    picker = at.selectbox(key="neighbour_picker")
    assert picker.options[0] == shared.paper_label(papers[0])
    assert shared.paper_label(target) in picker.options and len(picker.options) <= 6
    captions = " ".join(c.value for c in at.caption)
    assert "match “dilated convolutions scene”" in captions
    picker.set_value(101).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["neighbour_paper"] == target.id and card_shows(target)
    # an id finds its paper first; a search that finds nothing keeps the chosen paper
    at.text_input(key="neighbour_picker_query").input(papers[40].id).run()
    picker = at.selectbox(key="neighbour_picker")
    assert picker.options[:2] == [shared.paper_label(target), shared.paper_label(papers[40])]
    at.text_input(key="neighbour_picker_query").input("no such words zzqx").run()
    assert "No paper matches “no such words zzqx”." in [c.value for c in at.caption]
    assert at.selectbox(key="neighbour_picker").options == [shared.paper_label(target)]
    assert card_shows(target)
    # the Map's link: a paper far beyond the listed ones, opened by its id in session state
    at.session_state["neighbour_paper"] = papers[77].id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="neighbour_picker").value == 77 and card_shows(papers[77])
    deep = open_page("neighbours", neighbour_paper=papers[150].id)
    assert deep.selectbox(key="neighbour_picker").value == 150
    assert f"**{papers[150].title}**" in [m.value for m in deep.markdown]


def test_big_patient_list_is_searched_too(monkeypatch):
    import views._shared as shared
    monkeypatch.setenv("SCIMULT_APP_PICKER_MAX", "3")
    monkeypatch.setattr(shared, "PICKER_SHOWN", 4)
    at = open_page("patients")
    patients = demo.patients()
    picker = at.selectbox(key="patient_picker")
    assert len(picker.options) == 4 and picker.value == 0
    at.text_input(key="patient_picker_query").input(patients[12]["id"]).run()
    picker = at.selectbox(key="patient_picker")
    assert picker.options[1].startswith(f"{patients[12]['id']}: ")
    picker.set_value(12).run()
    assert not at.exception, [e.value for e in at.exception]
    assert patients[12]["text"] in [m.value for m in at.markdown]


# ---------------------------------------------------------------- library parts


def clustered(n, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, dim))
    points = centres[rng.integers(0, 4, n)] + 0.1 * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_sampled_projection_places_every_point_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path))
    vectors = clustered(150)
    coords, note = project_sampled(vectors, sample=60)
    assert coords.shape == (150, 2) and np.isfinite(coords).all()
    assert "random sample of 60 of the 150 papers" in note and "other 90" in note
    again, _ = project_sampled(vectors, sample=60)
    np.testing.assert_allclose(coords, again, atol=1e-4)  # seeded: the same map
    first = cached_project_keyed(vectors, "set-a:rev1", sample=60)
    second = cached_project_keyed(vectors, "set-a:rev1", sample=60)
    assert not first[2] and second[2]
    np.testing.assert_array_equal(first[0], second[0])
    assert second[1] == note
    small, small_note = project_sampled(vectors[:40], sample=60)
    assert small.shape == (40, 2) and small_note == ""


def test_density_counts_every_point_and_markers_are_stated():
    coords = np.random.default_rng(1).normal(size=(5000, 2))
    counts, xs, ys = density(coords, bins=50)
    assert counts.shape == (50, 50) and counts.sum() == 5000 and len(xs) == len(ys) == 50
    assert list(marker_rows(10, None, 20)) == list(range(10))
    sample = marker_rows(5000, None, 300)
    assert len(sample) == 300 and (np.diff(sample) > 0).all()
    matches = np.zeros(5000, dtype=bool)
    matches[[3, 7, 4000]] = True
    assert list(marker_rows(5000, matches, 300)) == [3, 7, 4000]


def test_rows_in_box_and_lasso_selection():
    coords = np.array([[0, 0], [1, 1], [2, 2], [5, 5], [0.5, 0.2]], dtype=np.float32)
    assert rows_in_region({"selection": {"points": []}}, coords) is None
    box = {"selection": {"box": [{"x": [-0.1, 1.5], "y": [1.5, -0.1]}]}}
    assert list(rows_in_region(box, coords)) == [0, 1, 4]
    triangle = {"selection": {"lasso": [{"x": [-1, 4, -1], "y": [-1, -1, 4]}]}}
    assert list(rows_in_region(triangle, coords)) == [0, 1, 4]
    both = {"selection": {"box": [{"x": [4, 6], "y": [4, 6]}],
                          "lasso": [{"x": [-1, 4, -1], "y": [-1, -1, 4]}]}}
    assert list(rows_in_region(both, coords)) == [0, 1, 3, 4]
