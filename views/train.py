"""Train: fine-tune task experts on a corpus with SciMult's multi-task contrastive recipe."""
import time

import pandas as pd
import streamlit as st

from scimult_app.corpus import demo
from scimult_app.corpus.labels import read_label_set
from scimult_app.corpus.readers import read_queries
from scimult_app.corpus.store import DEMO_CORPUS
from scimult_app.errors import ScimultError
from scimult_app.services.jobs import JOBS
from scimult_app.services.training_job import start_training
from scimult_app.training.finetune import training_pairs
from scimult_app.training.pairs import with_hard_negatives
from scimult_app.training.trainer import TrainConfig
from views._shared import MODEL_KEY, corpus_store, current_choice, job_progress

JOB_KEY = "train_job"  # the key of this session's training job in JOBS

st.title("Train")
st.write(
    "Fine-tune a model the way SciMult was pre-trained: each task gives (query, positive) pairs "
    "— classification paper → label text, link prediction citing → cited paper, search query → "
    "relevant paper — and trains its own expert against in-batch negatives. A dense model is "
    "first made a Mixture-of-Experts whose experts start as copies of the dense sublayers.")

store = corpus_store()
left, right = st.columns(2)
with left:
    corpus_name = st.selectbox("Papers", store.names(),
                               help="Labels come from each paper's 'labels', citations from 'cites'.")
    shipped = demo.label_sets()
    chosen_sets = st.multiselect("Label sets", list(shipped), default=list(shipped))
    label_upload = st.file_uploader("Or upload a label set (CSV/JSONL: name, definition)",
                                    type=["csv", "jsonl"], key="train_labels")
    query_upload = st.file_uploader("Queries (JSONL/CSV with text and relevant ids)",
                                    type=["jsonl", "csv"], key="train_queries",
                                    help="The demo corpus comes with its own queries.")
with right:
    tasks = st.multiselect("Tasks", ["search", "link", "classification"],
                           default=["search", "link", "classification"])
    base = st.selectbox("Base model", ["minilm", "current model"],
                        help="minilm is made a 3-expert MoE; a MoE checkpoint keeps its experts.")
    layout = st.selectbox("Expert layout (dense base)", ["mod2:attn", "mod3:attn", "mod2:fwd",
                                                        "mod2:attn_fwd", "ge6mod3:attn"])
    steps = st.slider("Steps", 10, 600, 240, step=10)
    hard = st.number_input("Hard negatives per pair", 0, 8, 1,
                           help="Papers sharing the positive's most specific label that the "
                                "query does not cite or ask for (link, search); every other "
                                "label (classification). 0: in-batch negatives only.")
    name = st.text_input("Save as", value=f"trained-{time.strftime('%Y%m%d-%H%M')}")

try:
    papers = store.load(corpus_name)
    labels = [label for set_name in chosen_sets
              for label in read_label_set(shipped[set_name].name, shipped[set_name].read_bytes())]
    if label_upload is not None:
        labels += read_label_set(label_upload.name, label_upload.getvalue())
    queries = demo.queries() if corpus_name == DEMO_CORPUS else []
    if query_upload is not None:
        queries = read_queries(query_upload.name, query_upload.getvalue())
    pairs = training_pairs(papers, labels, queries, tuple(tasks))
    if hard:
        pairs = with_hard_negatives(pairs, papers, labels, int(hard))
except ScimultError as error:
    st.error(str(error))
    st.stop()

st.dataframe(pd.DataFrame([{"task": task, "pairs": len(task_pairs),
                            "example query": task_pairs[0].query[:90],
                            "example positive": task_pairs[0].positive[:90],
                            "hard negatives": sum(len(p.negatives) for p in task_pairs)}
                           for task, task_pairs in pairs.items()]), hide_index=True, width="stretch")

if st.button("Train", type="primary"):
    base_choice = current_choice() if base == "current model" else ("minilm", None)
    job = start_training(name, base_choice, pairs, TrainConfig(steps=steps), 3, layout)
    st.session_state[JOB_KEY] = job.key

job = JOBS.get(st.session_state.get(JOB_KEY, ""))
if job is not None:
    job_progress(job)
    if job.succeeded and job.result is not None:
        trained = job.result
        curve = pd.DataFrame(trained.result.losses, columns=["step", "task", "loss"])
        st.line_chart(curve.pivot_table(index="step", columns="task", values="loss").ffill())
        st.success(f"Trained in {trained.result.seconds:.0f} s (peak memory "
                   f"{trained.result.peak_memory_mb:.0f} MB); saved to {trained.checkpoint}.")
        choice = (str(trained.checkpoint), str(trained.tokenizer))
        st.session_state["trained_model"] = choice
        if st.button(f"Use {trained.checkpoint.name} in the app"):
            st.session_state[MODEL_KEY] = choice
            st.rerun()
