"""Labels: top-k labels per paper with the classification expert, SciMult's way."""
from dataclasses import asdict

import pandas as pd
import streamlit as st

from scimult_app.analysis.labels import distribution, evaluate, label_names, predict
from scimult_app.corpus import demo
from scimult_app.corpus.documents import display_title
from scimult_app.corpus.labels import label_texts, read_label_set
from scimult_app.corpus.store import DEMO_CORPUS
from scimult_app.errors import ScimultError
from views._shared import corpus_vectors, embed_texts, require_model_and_corpus, single_expert_note

EXPERT = "classification"

st.title("Labels")
st.write("Classification as retrieval: each paper on the query side, each label as "
         "`name [SEP] definition` on the candidate side, both through the **classification "
         "expert**; a paper's labels are its top-k scoring label texts.")
embedder, corpus_name, docs = require_model_and_corpus()
single_expert_note(embedder)

shipped = demo.label_sets()
choice = st.radio("Label set", [*shipped, "Upload a label set"], horizontal=True)
labels = []
try:
    if choice in shipped:
        labels = read_label_set(shipped[choice].name, shipped[choice].read_bytes())
    else:
        upload = st.file_uploader("CSV or JSONL with 'name' and 'definition' (and optionally "
                                  "'label')", type=["csv", "jsonl"])
        if upload is not None:
            labels = read_label_set(upload.name, upload.getvalue())
except ScimultError as error:
    st.error(str(error))
if not labels:
    st.info("Choose or upload a label set.")
    st.stop()

k = st.slider("Top k labels per paper", 1, min(10, len(labels)), min(3, len(labels)))
label_vectors = embed_texts(embedder, label_texts(labels), EXPERT, "candidate", f"{len(labels)} labels")
paper_vectors = corpus_vectors(embedder, docs, EXPERT, side="query", corpus=corpus_name)
indices, values = predict(paper_vectors, label_vectors, k, embedder.loaded.score_function)
predicted = [[labels[i].label for i in row] for row in indices]

gold = [doc.labels for doc in docs]
result = evaluate(predicted, gold, k, label_ids=[label.label for label in labels])
known = {label.label for label in labels}
if result["papers_evaluated"]:
    left, middle, right = st.columns(3)
    left.metric(f"Recall@{k}", f"{result['recall_at_k']:.2f}")
    middle.metric("Accuracy (top-1 in gold)", f"{result['accuracy']:.2f}")
    right.metric("Papers with gold labels in this set", result["papers_evaluated"])
    if embedder.loaded.name == "demo" and choice in shipped and corpus_name == DEMO_CORPUS:
        st.warning("The built-in demo model's classification expert was trained on these "
                   "labels for most of these papers (all but a held-out fifth), so these "
                   "scores are close to 1 by construction. The README gives its held-out "
                   "figures; for an honest score use papers or labels it never saw.")
else:
    st.caption("No paper of this corpus carries gold labels from this label set, so there is "
               "nothing to score against.")

st.subheader("Label distribution (top-1)")
counts = distribution([row[0] for row in predicted])
names = label_names(labels)  # the id beside a name that two labels share
counts["name"] = counts["label"].map(names)
st.bar_chart(counts, x="name", y="count", horizontal=True, sort="-count")

st.subheader("Per paper")
table = pd.DataFrame({
    "id": [doc.id for doc in docs],
    "title": [display_title(doc) for doc in docs],
    "predicted": ["; ".join(f"{names[l]} ({s:.2f})" for l, s in zip(row, score_row))
                  for row, score_row in zip(predicted, values)],
})
if result["papers_evaluated"]:  # gold and hit only where the corpus has gold labels of this set
    gold_ids = [[l for l in doc.labels if l in known] for doc in docs]
    table["gold"] = ["; ".join(names[l] for l in row) for row in gold_ids]
    table["hit"] = [bool(set(row) & set(wanted)) if wanted else None
                    for row, wanted in zip(predicted, gold_ids)]
st.dataframe(table, width="stretch", hide_index=True)
st.download_button("Download CSV", table.to_csv(index=False).encode(), "label_predictions.csv",
                   "text/csv")
with st.expander("The label set"):
    st.dataframe(pd.DataFrame([asdict(label) for label in labels]), hide_index=True,
                 width="stretch")
