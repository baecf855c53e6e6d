"""Map: a UMAP of the corpus; hover, colour, highlight, select, click to open neighbours.

Up to MAP_POINTS papers every paper is a point. Above, UMAP is fitted on a sample and the rest
placed by their nearest sampled papers (cached per vector set); the map shades the density of
every paper and draws a stated number of them as points (every search match when they fit).
Clusters of such a map are fitted on the same sample and kept on disk beside it.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from scimult_app.analysis.clusters import (
    NOISE,
    cluster_centres,
    default_cluster_count,
    default_min_cluster_size,
    hdbscan_clusters,
    kmeans_clusters,
    name_clusters,
    unnamed_clusters,
)
from scimult_app.analysis.projection import (
    cached_clusters_keyed,
    cached_project,
    cached_project_keyed,
    density,
    marker_rows,
)
from scimult_app.analysis.selection import (
    clicked_id,
    colour_column,
    highlight,
    rows_in_region,
    selected_ids,
)
from scimult_app.corpus import demo
from scimult_app.corpus.labels import label_texts, read_label_set
from scimult_app.services.embedding_job import map_key
from views._shared import (
    corpus_store,
    corpus_vectors,
    embed_texts,
    expert_picker,
    map_points,
    map_sample,
    paper_label,
    require_model_and_corpus,
    single_expert_note,
)

FOCUS_KEY = "neighbour_paper"
ROUND_KEY = "map_chart_round"  # bumped when a click opens a paper
GREY = "#d0d0d0"
MAP_POINTS = map_points()  # above: a sampled map, density and stated points
MAP_SAMPLE = map_sample()  # papers UMAP is fitted on in a sampled map
MARKERS = 4_000  # points drawn on a density map
KEYWORD_SAMPLE = 20_000  # big corpora: cluster keywords read from this many papers

st.title("Map")
embedder, corpus_name, docs = require_model_and_corpus()

store = corpus_store()
left, middle, right = st.columns([2, 2, 3])
with left:
    expert = expert_picker("link", key="map_expert")
with right:
    others = st.multiselect("Also show corpora", [n for n in store.names() if n != corpus_name])
single_expert_note(embedder)

shown_corpora = [corpus_name, *others]
parts = {name: docs if name == corpus_name else store.load(name) for name in shown_corpora}
total = sum(len(part) for part in parts.values())
large = total > MAP_POINTS
with middle:
    colour_by = st.selectbox("Colour by", ["label", "year", "cluster", "corpus"])
docs = [doc for part in parts.values() for doc in part]
corpus_of = [name for name, part in parts.items() for _ in part]
if not docs:
    st.info("The corpus is empty.")
    st.stop()

blocks = [corpus_vectors(embedder, part, expert, corpus=name) for name, part in parts.items()]
vectors = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
if large:
    key = map_key(store, shown_corpora, embedder.loaded.fingerprint, expert)
    with st.spinner(f"Placing {total:,} papers on the map (once; later visits read it from "
                    "disk)…"):
        coords, note, _ = cached_project_keyed(vectors, key, metric="cosine", sample=MAP_SAMPLE)
else:
    coords, note = cached_project(vectors, key=f"{embedder.loaded.fingerprint}:{expert}",
                                  metric="cosine")
if note:
    st.caption(note)
frame = pd.DataFrame({
    "id": [d.id for d in docs], "title": [paper_label(d) for d in docs],
    "x": coords[:, 0], "y": coords[:, 1], "corpus": corpus_of,
    "label": [d.labels[0] if d.labels else "(none)" for d in docs],
    "year": [d.year for d in docs],
})
colour_by, colour_note = colour_column(colour_by, frame["year"].tolist())
if colour_note:
    st.info(colour_note)


def naming_inputs(label_set: str) -> tuple | None:
    """(labels, their vectors, the papers' classification vectors) for a shipped label set;
    None for "(no names)"."""
    if label_set not in shipped:
        return None
    labels = read_label_set(shipped[label_set].name, shipped[label_set].read_bytes())
    label_vectors = embed_texts(embedder, label_texts(labels), "classification", "candidate",
                                f"{len(labels)} labels")
    blocks = [corpus_vectors(embedder, part, "classification", side="query", corpus=name)
              for name, part in parts.items()]
    return labels, label_vectors, blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def named(cluster_ids: np.ndarray, inputs: tuple | None, texts: list[str],
          keyword_sample: int | None = None) -> list:
    """The clusters named by the classification expert, or 'cluster N' without a label set."""
    if inputs is None:
        return unnamed_clusters(cluster_ids, texts, keyword_sample=keyword_sample)
    labels, label_vectors, paper_vectors = inputs
    return name_clusters(cluster_ids, paper_vectors, label_vectors, labels,
                         embedder.loaded.score_function, texts, keyword_sample=keyword_sample)


@st.cache_data(max_entries=8, show_spinner="Naming the clusters…")
def big_map_cluster_names(map_key: str, method: str, size: int, label_set: str,
                          _cluster_ids: np.ndarray, _inputs: tuple | None, _texts: list[str]
                          ) -> list:
    """named() for a big map, once per map, clustering and label set (the classification
    vectors and keywords of 100,000 papers take seconds to read)."""
    return named(_cluster_ids, _inputs, _texts, KEYWORD_SAMPLE)


cluster_names = []
centres = {}
cluster_ids = None
if colour_by == "cluster":  # clusters only when asked for: the costly column on big corpora
    shipped = demo.label_sets()
    one, two, three = st.columns(3)
    method = one.radio("Clusters", ["HDBSCAN on the map", "KMeans on the vectors"],
                       key="map_cluster_method",
                       help="HDBSCAN finds the dense groups you see on the map and leaves "
                            "scattered papers unclustered; KMeans splits every paper into k "
                            "groups by their embeddings." + (
                                f" On a map of more than {MAP_SAMPLE:,} papers both run on the "
                                "papers UMAP was fitted on (KMeans on their first principal "
                                "components); every other paper joins the cluster of its "
                                "nearest centre (KMeans) or of its nearest sampled paper on the "
                                "map (HDBSCAN)." if large else ""))
    if method.startswith("HDBSCAN"):
        size = two.number_input("Smallest cluster", 2, max(2, len(docs)),
                                min(default_min_cluster_size(len(docs)), max(2, len(docs))),
                                key="map_min_cluster")
    else:
        size = two.number_input("Clusters (k)", 1, max(1, len(docs)),
                                min(default_cluster_count(len(docs)), len(docs)),
                                key="map_cluster_count")
    label_set = three.selectbox("Name clusters with", [*shipped, "(no names)"],
                                key="map_cluster_labels",
                                help="Each cluster takes the label of this set that the "
                                     "classification expert scores highest against the mean of "
                                     "its papers; the words beside are its TF-IDF keywords" + (
                                         f" (read from a random {KEYWORD_SAMPLE:,} papers)."
                                         if large and total > KEYWORD_SAMPLE else "."))
    texts = [f"{d.title} {d.abstract} {d.text}" for d in docs]
    if large:
        kind = "hdbscan" if method.startswith("HDBSCAN") else "kmeans"
        with st.spinner(f"Clustering {total:,} papers (once; later visits read them from "
                        "disk)…"):
            cluster_ids, _ = cached_clusters_keyed(vectors, coords, key, kind, int(size),
                                                   metric="cosine", sample=MAP_SAMPLE)
        cluster_names = big_map_cluster_names(key, kind, int(size), label_set, cluster_ids,
                                              naming_inputs(label_set), texts)
    else:
        cluster_ids = (hdbscan_clusters(coords, int(size)) if method.startswith("HDBSCAN")
                       else kmeans_clusters(vectors, int(size)))
        cluster_names = named(cluster_ids, naming_inputs(label_set), texts)
    names = {c.cluster: f"{c.cluster + 1} · {c.title()}" for c in cluster_names}
    frame["cluster"] = [names.get(c, "unclustered") for c in cluster_ids]
    centres = cluster_centres(coords, cluster_ids)
query = st.text_input("Highlight papers matching", placeholder="e.g. sepsis")
frame["match"] = highlight([f"{d.title} {d.abstract} {d.text}" for d in docs], query)


def points(part: pd.DataFrame, name: str, marker: dict) -> go.Scattergl:
    """One trace; the paper id rides in customdata (point indices count within each trace)."""
    return go.Scattergl(x=part["x"], y=part["y"], mode="markers", name=name,
                        customdata=part[["id"]].values, hovertext=part["title"],
                        hoverinfo="text", marker=marker)


figure = go.Figure()
drawn_note = ""
if large:
    counts, x_centres, y_centres = density(coords)
    figure.add_trace(go.Heatmap(
        x=x_centres, y=y_centres, z=np.log1p(counts), customdata=counts.astype(int),
        colorscale="Blues", showscale=False, name="density", zsmooth="best",
        hovertemplate="%{customdata} papers here<extra></extra>"))
    rows = marker_rows(len(frame), frame["match"].to_numpy() if query.strip() else None, MARKERS)
    matches = int(frame["match"].sum())
    if query.strip():
        drawn_note = (f"all {matches:,} papers matching “{query}” drawn as points"
                      if len(rows) == matches else
                      f"{len(rows):,} of the {matches:,} papers matching “{query}” drawn as points "
                      "(a random sample)")
    else:
        drawn_note = f"a random {len(rows):,} of them drawn as points"
    frame = frame.iloc[rows]
    frame = frame.assign(match=True)
grey = frame[~frame["match"]]
if len(grey):
    figure.add_trace(points(grey, "no match", {"color": GREY, "size": 6}))
shown = frame[frame["match"]]
if colour_by == "year":
    dated = shown[shown["year"].notna()]
    if len(dated):
        figure.add_trace(points(dated, "papers", {"color": dated["year"], "colorscale": "Viridis",
                                                  "size": 8, "colorbar": {"title": "year"}}))
    undated = shown[shown["year"].isna()]
    if len(undated):
        figure.add_trace(points(undated, "no year", {"color": "#888888", "size": 8}))
else:
    order = [names[c.cluster] for c in cluster_names] + ["unclustered"] \
        if colour_by == "cluster" else sorted(shown[colour_by].dropna().unique(), key=str)
    for value in order:
        group = shown[shown[colour_by] == value]
        if group.empty:
            continue
        figure.add_trace(points(group, str(value),
                                {"size": 8, **({"color": "#9e9e9e", "opacity": 0.6}
                                               if value == "unclustered" else {})}))
if centres:
    named = [c for c in cluster_names if c.cluster in centres]
    figure.add_trace(go.Scatter(
        x=[centres[c.cluster][0] for c in named], y=[centres[c.cluster][1] for c in named],
        mode="text", text=[f"<b>{c.cluster + 1} · {c.name}</b>" for c in named],
        textfont={"size": 13}, hoverinfo="skip", showlegend=False, name="cluster names"))
# zoom mode: there a click on a point reaches the app (in box and lasso mode Streamlit's chart
# forwards no plain clicks); box and lasso are on the toolbar
figure.update_layout(height=620, margin={"l": 0, "r": 0, "t": 10, "b": 0}, dragmode="zoom",
                     xaxis={"visible": False}, yaxis={"visible": False},
                     legend={"itemsizing": "constant"})
# a fresh chart key after each opened paper: coming back shows no stale selection, and the
# same paper can be opened again
chart_round = st.session_state.setdefault(ROUND_KEY, 0)
event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                        selection_mode=("points", "box", "lasso"), key=f"map_chart_{chart_round}")
if large:
    st.caption(f"{total:,} papers · {expert} expert · UMAP (cosine). The shading counts every "
               f"paper; {drawn_note}. Box or lasso lists every paper in the area, drawn or not; "
               "click a point, or draw around one, to open its neighbours.")
else:
    st.caption(f"{len(frame)} papers · {expert} expert · UMAP (cosine). Click a point, or draw a "
               "box or lasso around one, to open its neighbours; draw around several to list them.")

if cluster_names:
    st.subheader("Clusters")
    st.dataframe(pd.DataFrame([{
        "cluster": c.cluster + 1, "name": c.name, "papers": c.size, "keywords": ", ".join(c.keywords),
        "papers whose own top label it is": c.share} for c in cluster_names]),
        hide_index=True, width="stretch",
        column_config={"papers whose own top label it is": st.column_config.ProgressColumn(
            format="percent", min_value=0.0, max_value=1.0)})
    unclustered = int((cluster_ids == NOISE).sum())
    if unclustered:
        st.caption(f"{unclustered:,} papers lie in no dense group (HDBSCAN noise): shown as "
                   "“unclustered”.")
    if large and total > MAP_SAMPLE:
        st.caption(f"Clustered on the {MAP_SAMPLE:,} papers UMAP was fitted on ("
                   + ("HDBSCAN on their map positions; every other paper joined the cluster of "
                      "its nearest of them on the map" if kind == "hdbscan" else
                      "KMeans on their first principal components; every other paper joined "
                      "the cluster of its nearest centre")
                   + "), computed once and kept with the map.")

clicked = clicked_id(event)
if clicked:
    st.session_state[ROUND_KEY] = chart_round + 1
    st.session_state[FOCUS_KEY] = clicked
    st.switch_page("views/neighbours.py")
region = rows_in_region(event, coords) if large else None
if region is not None:
    st.subheader(f"{len(region):,} papers in the selected area")
    picked = pd.DataFrame({"id": [docs[i].id for i in region],
                           "title": [paper_label(docs[i]) for i in region],
                           "label": [docs[i].labels[0] if docs[i].labels else "" for i in region],
                           "year": [docs[i].year for i in region],
                           "corpus": [corpus_of[i] for i in region]})
    st.dataframe(picked, hide_index=True, width="stretch")
    st.stop()
chosen = selected_ids(event)
if chosen:
    st.subheader(f"{len(chosen)} selected")
    picked = frame.set_index("id").loc[[i for i in chosen if i in set(frame["id"])]]
    st.dataframe(picked.reset_index()[["id", "title", "label", "year", "corpus"]],
                 hide_index=True, width="stretch")
