"""Train: fine-tune task experts on a corpus with SciMult's multi-task contrastive recipe."""
import time

import pandas as pd
import streamlit as st

from pages._shared import MODEL_KEY, corpus_store, current_choice
from scimult_app.corpus import demo
from scimult_app.corpus import readers as ingest
from scimult_app.corpus.labels import read_label_set
from scimult_app.corpus.store import DEMO_CORPUS, slug
from scimult_app.errors import ScimultError
from scimult_app.models import open_model
from scimult_app.paths import cache_dir
from scimult_app.training.export import save_model
from scimult_app.training.finetune import fine_tune, training_pairs
from scimult_app.training.pairs import with_hard_negatives
from scimult_app.training.trainer import TrainConfig

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
        table = ingest.parse_upload(query_upload.name, query_upload.getvalue())
        queries = [{"id": doc.id, "text": doc.model_input(),
                    "relevant": ingest.parse_labels(doc.extra.get("relevant"))}
                   for doc in ingest.to_documents(table, ingest.guess_mapping(table), "query")]
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
    source, tokenizer = current_choice() if base == "current model" else ("minilm", None)
    try:
        base_model = open_model(source, tokenizer)
    except ScimultError as error:
        st.error(str(error))
        st.stop()
    bar = st.progress(0.0, text="Starting…")

    def report(step: int, total: int, task: str, loss: float) -> None:
        bar.progress(step / total, text=f"Step {step}/{total} · {task} · loss {loss:.3f}")

    model, result = fine_tune(base_model, pairs, TrainConfig(steps=steps), 3, layout, report)
    target = cache_dir() / "trained" / f"{slug(name)}.ckpt"
    target.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, target)
    st.session_state["trained_model"] = (str(target), str(model.tokenizer.vocab_file.parent))
    curve = pd.DataFrame(result.losses, columns=["step", "task", "loss"])
    st.line_chart(curve.pivot_table(index="step", columns="task", values="loss").ffill())
    st.success(f"Trained in {result.seconds:.0f} s (peak memory {result.peak_memory_mb:.0f} MB); "
               f"saved to {target}.")

trained = st.session_state.get("trained_model")
if trained and st.button(f"Use {trained[0].rsplit('/', 1)[-1]} in the app"):
    st.session_state[MODEL_KEY] = trained
    st.rerun()
