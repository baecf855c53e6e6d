"""The explaining views under AppTest on the built-in default model (minilm) and the demo data:
Why this match (Search, Experts), named clusters (Map), Experts moving."""
import json

import numpy as np
from test_app_pages import by_label, open_page

from scimult_app.analysis.clusters import kmeans_clusters, name_clusters
from scimult_app.analysis.occlusion import explain_paper
from scimult_app.corpus import demo
from scimult_app.corpus.documents import display_label
from scimult_app.corpus.labels import label_texts, read_label_set


def chart_spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def test_search_card_explains_its_match(papers, embedder):
    at = open_page("search")
    query = "loop diuretic dosing in heart failure"
    by_label(at.text_input, "Query").input(query).run()
    first = next(m.value for m in at.markdown if m.value.startswith("**1. "))
    doc = next(p for p in papers if first == f"**1. {p.title}**")
    toggles = [t for t in at.toggle if t.label == "Why this match"]
    assert len(toggles) == 10 and not any(t.value for t in toggles)
    assert not [m for m in at.markdown if "<span" in m.value]  # nothing computed until asked
    toggles[0].set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    shaded = [m.value for m in at.markdown if "<span style=\"background:" in m.value]
    assert any(value.startswith("Query: ") for value in shaded)  # the query's words
    assert len(shaded) == 3  # query, title, abstract
    expected = explain_paper(embedder, query, doc, "search")
    best = expected.top(1)[0]
    caption = next(c.value for c in at.caption if "leaving out" in c.value)
    assert best.text[:40] in caption and f"{-best.delta:+.4f}" in caption
    assert f"score {expected.score:.3f}" in caption


def test_map_names_clusters_with_the_label_set(papers, embedder):
    at = open_page("map")
    by_label(at.selectbox, "Colour by").set_value("cluster").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert {"cluster", "name", "papers", "keywords"} <= set(table.columns)
    assert len(table) >= 2
    by_label(at.radio, "Clusters").set_value("KMeans on the vectors").run()
    by_label(at.number_input, "Clusters (k)").set_value(8).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    inputs = [p.model_input() for p in papers]
    path = demo.label_sets()["Fields of study"]
    labels = read_label_set(path.name, path.read_bytes())
    ids = kmeans_clusters(embedder.encode(inputs, "link", "candidate"), 8)
    expected = name_clusters(ids, embedder.encode(inputs, "classification", "query"),
                             embedder.encode(label_texts(labels), "classification", "candidate"),
                             labels, "cosine")
    assert table["name"].tolist() == [c.name for c in expected]
    assert table["papers"].tolist() == [c.size for c in expected]
    spec = chart_spec(at.get("plotly_chart")[0])
    text_traces = [t for t in spec["data"] if t.get("mode") == "text"]
    assert [t.replace("<b>", "").replace("</b>", "") for t in text_traces[0]["text"]] == \
        [f"{c.cluster + 1} · {c.name}" for c in expected]
    legend = [t["name"] for t in spec["data"] if t.get("mode") == "markers"]
    assert all(any(name.startswith(f"{c.cluster + 1} · {c.name}") for name in legend)
               for c in expected)


def test_experts_moving_and_why_under_each_expert(papers):
    at = open_page("experts")
    charts = at.get("plotly_chart")
    moving = next(chart_spec(c) for c in charts if chart_spec(c).get("frames"))
    assert len(moving["frames"]) == 13
    assert moving["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    titles = {display_label(p) for p in papers}  # title (year) · id
    movers = next(d.value for d in at.dataframe if "distance" in d.value.columns)
    assert len(movers) == 10 and set(movers["title"]) <= titles
    assert np.allclose(movers["distance"], 0.0, atol=1e-3)  # one encoder: nothing moves
    by_label(at.toggle, "Why this match, under each expert").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption if "leaving out" in c.value]
    assert [c.split(" expert")[0] for c in captions] == ["search", "link", "classification"]
    assert len(set(c.split(" · ", 1)[1] for c in captions)) == 1  # minilm: identical experts
