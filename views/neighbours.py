"""Neighbours: one paper's closest papers under the chosen expert, and a small graph."""
import plotly.graph_objects as go
import streamlit as st

from scimult_app.analysis.neighbours import graph_layout, neighbour_graph, neighbours
from scimult_app.corpus.documents import display_title
from views._shared import (
    corpus_vectors,
    expert_picker,
    paper_label,
    paper_picker,
    require_model_and_corpus,
    result_card,
    single_expert_note,
)

FOCUS_KEY = "neighbour_paper"  # the paper's id; set by the Map page when a point is clicked
PICKER_KEY = "neighbour_picker"  # the paper picker's own state: a row of the corpus

st.title("Neighbours")
embedder, corpus_name, docs = require_model_and_corpus(2)

chosen = paper_picker("Paper (type to search)", docs, PICKER_KEY, focus_key=FOCUS_KEY)
left, right = st.columns(2)
with left:
    expert = expert_picker("link", key="neighbour_expert")
with right:
    k = st.slider("Neighbours", 1, min(30, max(1, len(docs) - 1)), min(10, max(1, len(docs) - 1)))
single_expert_note(embedder)
if len(docs) < 2:
    st.info("A corpus of one paper has no neighbours.")
    st.stop()

query_vectors = corpus_vectors(embedder, docs, expert, side="query", corpus=corpus_name)
candidate_vectors = corpus_vectors(embedder, docs, expert, side="candidate",
                                   corpus=corpus_name)
score_function = embedder.loaded.score_function
indices, values = neighbours(chosen, query_vectors, candidate_vectors, k, score_function)

paper = docs[chosen]
with st.container(border=True):
    st.markdown(f"**{display_title(paper)}**")
    st.caption(" · ".join(str(part) for part in (paper.year, ", ".join(paper.labels),
                                                 f"id `{paper.id}`") if part))
    st.write(paper.abstract or paper.text)

graph_tab, list_tab = st.tabs(["Graph", "List"])
with list_tab:
    for rank, (i, score) in enumerate(zip(indices, values), 1):
        result_card(rank, docs[i], float(score))
with graph_tab:
    depth = st.radio("Graph depth", [1, 2], horizontal=True,
                     help="2 also links each neighbour to its own closest papers among these.")
    nodes, edges = neighbour_graph(chosen, query_vectors, candidate_vectors, min(k, 12),
                                   score_function, depth=depth)
    positions = graph_layout(nodes, edges)
    figure = go.Figure()
    for source, target, _ in edges:
        (x0, y0), (x1, y1) = positions[source], positions[target]
        figure.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="skip",
                                    line={"width": 1, "color": "#bbbbbb"}, showlegend=False))
    figure.add_trace(go.Scatter(
        x=[positions[n][0] for n in nodes], y=[positions[n][1] for n in nodes],
        mode="markers+text", text=[display_title(docs[n], 4) for n in nodes],
        textposition="top center",
        hovertext=[paper_label(docs[n]) for n in nodes], hoverinfo="text", showlegend=False,
        marker={"size": [22 if n == chosen else 12 for n in nodes],
                "color": ["#d62728" if n == chosen else "#1f77b4" for n in nodes]}))
    figure.update_layout(height=480, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                         xaxis={"visible": False}, yaxis={"visible": False})
    st.plotly_chart(figure, width="stretch")
    st.caption(f"The paper (red), its {min(k, 12)} nearest neighbours under the {expert} expert"
               + (", and their links among themselves." if depth == 2 else "."))
