"""Search: a query or a whole paper against the corpus, ranked with the chosen expert."""
import pandas as pd
import streamlit as st

from scimult_app.analysis.filters import filter_mask, label_options, year_bounds
from scimult_app.analysis.ranking import top_k_chunked
from scimult_app.corpus.documents import Document, display_title
from views._lexical import lexical_toggle, side_by_side
from views._shared import (
    corpus_vectors,
    embed_texts,
    expert_picker,
    explain_pair,
    require_model_and_corpus,
    result_card,
    single_expert_note,
)

st.title("Search")
embedder, corpus_name, docs = require_model_and_corpus()

mode = st.radio("Search with", ["A query", "A whole paper"], horizontal=True)
if mode == "A query":
    query_text = st.text_input("Query", placeholder="e.g. anthracycline cardiotoxicity in breast cancer")
else:
    title = st.text_input("Paper title")
    abstract = st.text_area("Abstract", height=150)
    query_text = Document(id="query", title=title.strip(), abstract=abstract.strip()).model_input()

left, middle, right = st.columns([2, 1, 2])
with left:
    expert = expert_picker("search", key="search_expert")
with middle:
    k = st.number_input("Top k", min_value=1, max_value=max(1, len(docs)), value=min(10, len(docs)))
low, high = year_bounds(docs)
with right:
    years = st.slider("Years", low, high, (low, high)) if low < high else (low, high)
chosen_labels = st.multiselect("Only papers with any of these labels", label_options(docs))
lexical = lexical_toggle("search_lexical")
single_expert_note(embedder)

if not query_text.strip():
    st.info(f"Type a query to rank the {len(docs)} papers of “{corpus_name}”.")
    st.stop()

candidates = corpus_vectors(embedder, docs, expert, corpus=corpus_name)
query_vector = embed_texts(embedder, [query_text], expert, "query", "the query")
mask = filter_mask(docs, years, chosen_labels)
if not mask.any():
    st.warning("No paper passes the filters; widen the year range or clear the labels.")
    st.stop()
kept = [i for i, keep in enumerate(mask) if keep]
# no filter: the (possibly memory-mapped) matrix itself; chunked top-k never sorts it all
pool = candidates if len(kept) == len(docs) else candidates[kept]
indices, values = top_k_chunked(query_vector, pool, int(k), embedder.loaded.score_function)
hits = [(kept[column], float(value)) for column, value in zip(indices[0], values[0])]

st.subheader(f"Top {len(hits)} of {len(kept)} papers · {expert} expert · "
             f"{embedder.loaded.score_function} score")
table = pd.DataFrame([{"rank": rank, "id": docs[i].id, "title": display_title(docs[i]),
                       "year": docs[i].year, "labels": "; ".join(docs[i].labels), "score": score}
                      for rank, (i, score) in enumerate(hits, 1)])
st.download_button("Download CSV", table.to_csv(index=False).encode(), "search_results.csv",
                   "text/csv")
if lexical:
    st.subheader("BM25 beside the expert")
    side_by_side(query_text, [docs[i].id for i, _ in hits], docs, len(hits), expert, allowed=mask)
st.caption("Turn on “Why this match” on a card to see which sentences of the paper (and words "
           "of a short query) move its score most under this expert.")
for rank, (i, score) in enumerate(hits, 1):
    result_card(rank, docs[i], score, key="search",
                explain=lambda doc=docs[i]: explain_pair(embedder, query_text, doc, expert))
