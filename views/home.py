"""Landing page: what the app does, the loaded model, where to go next."""
import streamlit as st

from scimult_app.engine.experts import EXPERTS
from views._shared import current_corpus, current_embedder

st.title("SciMult Explorer")
st.write(
    "Embed papers and patient summaries with a SciMult encoder and explore them: rank a "
    "corpus for a query, find a paper's neighbours, predict labels, match patients to "
    "articles, map the corpus, and compare what each task expert sees.")

embedder = current_embedder()
corpus_name, docs = current_corpus()
if embedder is not None:
    loaded = embedder.loaded
    left, middle, right = st.columns(3)
    left.metric("Model", loaded.name)
    middle.metric("Experts", loaded.num_experts)
    right.metric(f"Papers in “{corpus_name}”", len(docs))
    with st.expander("Everything detected in the checkpoint"):
        st.json(loaded.summary())

st.subheader("Where to go")
st.markdown(
    "- **Corpora**: paste or upload papers (CSV, JSONL, BibTeX, RIS, PDF, text) and keep them.\n"
    "- **Search**: a query or a whole paper against the corpus.\n"
    "- **Neighbours**: the closest papers to one paper, with a small graph.\n"
    "- **Labels**: label predictions with the classification expert.\n"
    "- **Patients**: patient-to-article and patient-to-patient matching.\n"
    "- **Map**: a UMAP of the corpus; select points, click to open neighbours.\n"
    "- **Experts**: one corpus under each expert, side by side.")

st.subheader("The experts")
for expert in EXPERTS:
    st.markdown(f"**{expert.title}** (`{expert.name}`, id {expert.index}): {expert.trained_for}")

st.caption(
    "SciMult: Zhang, Cheng, Shen, Liu, Wang, Gao. Pre-training Multi-task Contrastive Learning "
    "Models for Scientific Literature Understanding. Findings of EMNLP 2023, 12259-12275. "
    "Checkpoints (scimult_vanilla.ckpt, scimult_moe.ckpt, scimult_moe_pmcpatients_par.ckpt, "
    "scimult_moe_pmcpatients_ppr.ckpt) are described on the model card huggingface.co/yuz9yuz/SciMult.")
