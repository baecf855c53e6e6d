"""Map: a UMAP of the corpus; hover, colour, highlight, select, click to open neighbours."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._shared import (
    corpus_store,
    corpus_vectors,
    expert_picker,
    paper_label,
    require_model_and_corpus,
    single_expert_note,
)
from scimult_app.analysis.projection import cached_project, clusters
from scimult_app.analysis.selection import clicked_id, highlight, selected_ids

FOCUS_KEY = "neighbour_paper"
GREY = "#d0d0d0"

st.title("Map")
embedder, corpus_name, docs = require_model_and_corpus()

store = corpus_store()
left, middle, right = st.columns([2, 2, 3])
with left:
    expert = expert_picker("link", key="map_expert")
with middle:
    colour_by = st.selectbox("Colour by", ["label", "year", "cluster", "corpus"])
with right:
    others = st.multiselect("Also show corpora", [n for n in store.names() if n != corpus_name])
single_expert_note(embedder)

corpus_of = [corpus_name] * len(docs)
for name in others:
    extra = store.load(name)
    docs = docs + extra
    corpus_of += [name] * len(extra)
if not docs:
    st.info("The corpus is empty.")
    st.stop()

vectors = corpus_vectors(embedder, docs, expert)
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
if colour_by == "cluster":  # KMeans only when asked for: it is the costly column on big corpora
    frame["cluster"] = [f"cluster {c + 1}" for c in clusters(vectors)]
query = st.text_input("Highlight papers matching", placeholder="e.g. sepsis")
frame["match"] = highlight([f"{d.title} {d.abstract} {d.text}" for d in docs], query)

figure = go.Figure()
grey = frame[~frame["match"]]
if len(grey):
    figure.add_trace(go.Scattergl(x=grey["x"], y=grey["y"], mode="markers", name="no match",
                                  customdata=grey[["id"]].values, hovertext=grey["title"],
                                  hoverinfo="text", marker={"color": GREY, "size": 6}))
shown = frame[frame["match"]]
if colour_by == "year" and shown["year"].notna().any():
    figure.add_trace(go.Scattergl(
        x=shown["x"], y=shown["y"], mode="markers", name="papers",
        customdata=shown[["id"]].values, hovertext=shown["title"], hoverinfo="text",
        marker={"color": shown["year"], "colorscale": "Viridis", "size": 8,
                "colorbar": {"title": "year"}}))
else:
    for value, group in shown.groupby(colour_by, sort=True):
        figure.add_trace(go.Scattergl(x=group["x"], y=group["y"], mode="markers", name=str(value),
                                      customdata=group[["id"]].values, hovertext=group["title"],
                                      hoverinfo="text", marker={"size": 8}))
figure.update_layout(height=620, margin={"l": 0, "r": 0, "t": 10, "b": 0}, dragmode="lasso",
                     xaxis={"visible": False}, yaxis={"visible": False},
                     legend={"itemsizing": "constant"})
event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                        selection_mode=("points", "box", "lasso"), key="map_chart")
st.caption(f"{len(frame)} papers · {expert} expert · UMAP (cosine). Box or lasso to list "
           "papers; click one point to open its neighbours.")

clicked = clicked_id(event)
if clicked and clicked != st.session_state.get("map_last_click"):
    # remember the click: coming back to the map must not reopen the same paper
    st.session_state["map_last_click"] = clicked
    st.session_state[FOCUS_KEY] = clicked
    st.switch_page("pages/neighbours.py")
chosen = selected_ids(event)
if chosen:
    st.subheader(f"{len(chosen)} selected")
    picked = frame.set_index("id").loc[[i for i in chosen if i in set(frame["id"])]]
    st.dataframe(picked.reset_index()[["id", "title", "label", "year", "corpus"]],
                 hide_index=True, width="stretch")
