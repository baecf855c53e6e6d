"""Experts: one corpus under each task expert, side by side, and how much they agree.

Above MAP_POINTS papers each expert's map is the sampled map of the Map page (cached per vector
set, under the same key), drawn as a stated random sample of points, and the agreement table
takes a stated sample of papers as queries.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from scimult_app.analysis.compare import agreement, align, top_k_by_expert
from scimult_app.analysis.moving import animation_rows, displacement, farthest_moved
from scimult_app.analysis.projection import (
    cached_project,
    cached_project_keyed,
    marker_rows,
)
from scimult_app.engine.experts import EXPERTS
from scimult_app.services.embedding_job import map_key
from views._shared import (
    OCCLUSION_HELP,
    corpus_store,
    corpus_vectors,
    embed_texts,
    explain_pair,
    map_points,
    map_sample,
    moving_map_figure,
    paper_label,
    paper_picker,
    require_model_and_corpus,
    show_explanation,
)

MAP_POINTS = map_points()  # above: a sampled map, density and stated points
MAP_SAMPLE = map_sample()  # papers UMAP is fitted on in a sampled map
MARKERS = 3_000  # points drawn on each map of a big corpus (the same papers on all three)
AGREEMENT_QUERIES = 2_000  # big corpora: papers whose neighbour lists the agreement compares

st.title("Experts")
embedder, corpus_name, docs = require_model_and_corpus(2)
loaded = embedder.loaded
large = len(docs) > MAP_POINTS

for expert in EXPERTS:
    st.markdown(f"**{expert.title}** (`{expert.name}`): {expert.trained_for}")
if not loaded.is_moe:
    st.warning(
        f"{loaded.name} has a single expert, so the three columns below are identical and every "
        "overlap is 1.0. With a MoE checkpoint (scimult_moe.ckpt, or the built-in `demo`) each "
        "task routes through its own expert sublayers: the maps move apart, neighbour lists "
        "change, and the agreement table drops below 1, showing what each task taught.")

names = [expert.name for expert in EXPERTS]
vectors = {name: (corpus_vectors(embedder, docs, name, side="query", corpus=corpus_name),
                  corpus_vectors(embedder, docs, name, side="candidate",
                                 corpus=corpus_name)) for name in names}

st.subheader("Maps, aligned")
reference = None
aligned = {}
columns = st.columns(len(names))
labels = [doc.labels[0] if doc.labels else "(none)" for doc in docs]
drawn = marker_rows(len(docs), None, MARKERS) if large else np.arange(len(docs))
notes = []
for column, name in zip(columns, names):
    if large:  # the Map page's key: a map drawn there is read here, and the other way round
        with st.spinner(f"Placing {len(docs):,} papers on the {name} expert's map (once; later "
                        "visits read it from disk)…"):
            coords, note, _ = cached_project_keyed(
                vectors[name][1], map_key(corpus_store(), [corpus_name], loaded.fingerprint, name),
                metric="cosine", sample=MAP_SAMPLE)
    else:
        coords, note = cached_project(vectors[name][1], key=f"{loaded.fingerprint}:{name}",
                                      metric="cosine")
    notes.append(note)
    coords = coords if reference is None else align(reference, coords)
    reference = coords if reference is None else reference
    aligned[name] = coords
    frame = pd.DataFrame({"x": coords[drawn, 0], "y": coords[drawn, 1],
                          "label": [labels[row] for row in drawn],
                          "title": [paper_label(docs[row]) for row in drawn]})
    figure = go.Figure()
    for value, group in frame.groupby("label"):
        figure.add_trace(go.Scattergl(x=group["x"], y=group["y"], mode="markers", name=value,
                                      hovertext=group["title"], hoverinfo="text",
                                      marker={"size": 6}, showlegend=name == names[-1]))
    figure.update_layout(height=380, margin={"l": 0, "r": 0, "t": 30, "b": 0},
                         title=name, xaxis={"visible": False}, yaxis={"visible": False})
    column.plotly_chart(figure, width="stretch", key=f"experts_map_{name}")
st.caption("Each map is rotated, reflected and scaled onto the search expert's map "
           "(Procrustes), so positions can be compared."
           + (f" Each map places all {len(docs):,} papers; a random {len(drawn):,} of them, the "
              "same on every map, are drawn as points." if len(drawn) < len(docs) else ""))
for note in dict.fromkeys(n for n in notes if n):
    st.caption(note)

st.subheader("Experts, moving")
left, right = st.columns(2)
start_expert = left.selectbox("From", names, index=0, key="moving_from")
end_expert = right.selectbox("To", names, index=1 if len(names) > 1 else 0, key="moving_to")
distances = displacement(aligned[start_expert], aligned[end_expert])
rows = animation_rows(distances)
motion = moving_map_figure(aligned[start_expert][rows], aligned[end_expert][rows],
                           [labels[row] for row in rows], [paper_label(docs[row]) for row in rows],
                           title=f"{start_expert} → {end_expert}")
st.plotly_chart(motion, width="stretch", key="experts_moving")
shown = "" if len(rows) == len(docs) else (
    f" The animation shows {len(rows)} of {len(docs)} papers: the farthest movers and an even "
    "sample of the rest.")
st.caption("Press ▶ Play: each paper travels from its place on the first expert's map to its place "
           "on the second (both aligned onto the search expert's map)." + shown)
movers = farthest_moved(aligned[start_expert], aligned[end_expert], [d.id for d in docs], n=10)
by_id = {doc.id: doc for doc in docs}
movers["title"] = [paper_label(by_id[i]) for i in movers["id"]]
movers["label"] = [", ".join(by_id[i].labels) for i in movers["id"]]
st.markdown(f"**Papers that move farthest** ({start_expert} → {end_expert})")
st.dataframe(movers[["rank", "title", "label", "distance"]], hide_index=True, width="stretch",
             column_config={"distance": st.column_config.NumberColumn(
                 "distance", format="%.2f",
                 help="How far the paper travels, in units of the map's typical radius (RMS "
                      "distance of the papers from the map's centre).")})
st.caption(f"Median move: {np.median(distances):.2f} map radii." if len(distances) else "")

st.subheader("One paper or query, three experts")
mode = st.radio("Compare on", ["A paper of the corpus", "A query"], horizontal=True)
k = st.slider("Top k", 1, min(20, len(docs) - 1), min(10, len(docs) - 1))
score_function = loaded.score_function
ids = [doc.id for doc in docs]
if mode == "A paper of the corpus":
    chosen = paper_picker("Paper", docs, "experts_paper")
    pairs = {name: (query[chosen], candidates) for name, (query, candidates) in vectors.items()}
    ranked, overlaps = top_k_by_expert(pairs, ids, k, score_function, exclude=chosen)
else:
    text = st.text_input("Query", value="heart failure after chemotherapy")
    pairs = {name: (embed_texts(embedder, [text], name, "query", "the query"), vectors[name][1])
             for name in names}
    ranked, overlaps = top_k_by_expert(pairs, ids, k, score_function)
titles = {doc.id: paper_label(doc) for doc in docs}
st.dataframe(ranked.map(titles.get), width="stretch")
st.write(" · ".join(f"{a} vs {b}: overlap@{k} = {overlaps.loc[a, b]:.2f}"
                    for i, a in enumerate(names) for b in names[i + 1:]))

if st.toggle("Why this match, under each expert", key="experts_explain", help=OCCLUSION_HELP):
    listed = list(dict.fromkeys(ranked.to_numpy().ravel().tolist()))
    target = st.selectbox("Ranked paper", listed, format_func=lambda i: titles[i],
                          key="experts_explain_paper")
    query_text = docs[chosen].model_input() if mode == "A paper of the corpus" else text
    for column, name in zip(st.columns(len(names)), names):
        with column:
            st.markdown(f"**{name}**")
            with st.spinner(f"Occluding under the {name} expert…"):
                words, paper = explain_pair(embedder, query_text, by_id[target], name)
            show_explanation(paper, words)

st.subheader("Corpus-wide agreement")
queries = AGREEMENT_QUERIES if large and len(docs) > AGREEMENT_QUERIES else None
with st.spinner("Comparing neighbour lists…"):
    table = agreement(vectors, k=10, score_function=score_function, sample=queries)
st.dataframe(table.style.format("{:.2f}"), width="stretch")
st.caption("Mean overlap of the 10 nearest neighbours of "
           + (f"a random {queries:,} of the {len(docs):,} papers (their neighbours found among "
              "all of them)" if queries else "every paper")
           + ", for each pair of experts (1.0: identical neighbour lists).")
