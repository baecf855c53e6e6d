"""The widgets and cached resources every page shares: model picker, corpus picker, embeddings."""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st

from scimult_app import builtin
from scimult_app.corpora import DEMO_CORPUS, CorpusStore
from scimult_app.documents import Document
from scimult_app.embedder import Embedder
from scimult_app.errors import ScimultError
from scimult_app.experts import EXPERTS, get_expert
from scimult_app.loading import LoadedModel, load_model
from scimult_app.paths import cache_dir

MODEL_KEY = "model_choice"  # (source, tokenizer) in session state
CORPUS_KEY = "corpus_name"
UPLOAD_CHUNK = 16 * 1024 * 1024
GOLD_MARK = ":green[:material/check_circle: gold]"


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_embedder(source: str, tokenizer: str | None) -> Embedder:
    """One model per (source, tokenizer), shared by every session and loaded once."""
    return Embedder(load_model(source, tokenizer or None))


@st.cache_resource
def _vector_store() -> dict:
    return {}


@st.cache_resource
def corpus_store() -> CorpusStore:
    return CorpusStore()


class DemoBuild:
    """The built-in `demo` model, trained once in a background thread while the app runs."""

    def __init__(self) -> None:
        self.step, self.total, self.error = 0, 0, None
        self.started = time.time()
        self.thread = threading.Thread(target=self._run, name="demo-build", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            builtin.ensure("demo", self._progress)
        except Exception as error:  # shown in the sidebar; minilm stays usable
            self.error = f"{type(error).__name__}: {error}"

    def _progress(self, step: int, total: int, task: str, loss: float) -> None:
        self.step, self.total = step, total

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


@st.cache_resource
def demo_build() -> DemoBuild | None:
    """Start building `demo` once per server, unless it is built or building is switched off."""
    if builtin.is_built("demo") or os.environ.get("SCIMULT_APP_BUILD_DEMO", "1") == "0":
        return None
    return DemoBuild()


def default_model() -> str:
    """`demo` once it is built; `minilm` meanwhile."""
    return "demo" if builtin.is_built("demo") else "minilm"


def current_choice() -> tuple[str, str | None]:
    return st.session_state.get(MODEL_KEY, (default_model(), None))


def demo_status() -> None:
    build = demo_build()
    if build is not None and not builtin.is_built("demo"):
        with st.sidebar:
            _demo_progress(build)


@st.fragment(run_every=3)
def _demo_progress(build: DemoBuild) -> None:
    """Refreshes itself every few seconds; reruns the app when the demo model is ready."""
    if builtin.is_built("demo"):
        st.rerun()
    if build.error:
        st.warning(f"The demo model could not be built ({build.error}); minilm is in use.")
    elif build.running:
        fraction = build.step / build.total if build.total else 0.0
        elapsed = time.time() - build.started
        left = f", about {elapsed / fraction * (1 - fraction) / 60:.0f} min left" if fraction > 0.05 else ""
        st.progress(fraction, text=f"Training the 3-expert demo model: step "
                                           f"{build.step}/{build.total or '…'}{left}. "
                                           "minilm is in use meanwhile.")


def current_embedder() -> Embedder | None:
    """The chosen model, or None (with the error shown) when it cannot be loaded."""
    source, tokenizer = current_choice()
    try:
        return cached_embedder(source, tokenizer)
    except ScimultError as error:
        st.error(f"The model could not be loaded. {error}")
        return None


def save_upload(uploaded) -> Path:
    """Stream an uploaded checkpoint to disk in chunks (never a second copy in memory)."""
    folder = cache_dir() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(uploaded.name).name
    partial = target.with_suffix(target.suffix + ".part")
    uploaded.seek(0)
    with open(partial, "wb") as out:
        shutil.copyfileobj(uploaded, out, UPLOAD_CHUNK)
    partial.replace(target)
    return target


def model_sidebar() -> None:
    """Model picker: a built-in, a checkpoint by path, or an uploaded checkpoint."""
    st.sidebar.subheader("Model")
    demo_status()
    source, tokenizer = current_choice()
    kinds = ["Built-in", "Checkpoint path", "Upload checkpoint"]
    default_kind = 0 if source in builtin.NAMES else 1
    kind = st.sidebar.radio("Model source", kinds, index=default_kind, horizontal=True,
                            label_visibility="collapsed", key="model_kind")
    if kind == "Built-in":
        ready = [n for n in builtin.NAMES if n != "demo" or builtin.is_built("demo")]
        name = st.sidebar.selectbox("Built-in model", ready,
                                    index=ready.index(source) if source in ready else 0,
                                    help="minilm: all-MiniLM-L6-v2, one expert. demo: MiniLM made "
                                         "a 3-expert MoE and trained on the demo data's tasks.")
        if (name, None) != (source, tokenizer):
            st.session_state[MODEL_KEY] = (name, None)
    else:
        with st.sidebar.form("checkpoint_form"):
            if kind == "Checkpoint path":
                path = st.text_input("Checkpoint (.ckpt) or Hugging Face folder",
                                     value="" if source in builtin.NAMES else source,
                                     placeholder="/models/scimult_moe.ckpt")
                uploaded = None
            else:
                path = ""
                uploaded = st.file_uploader("Checkpoint file", type=["ckpt", "pt", "bin", "pth"])
            tokenizer_input = st.text_input(
                "Tokenizer folder (vocab.txt)", value=tokenizer or "",
                placeholder="/models/BiomedNLP-BiomedBERT-base-uncased-abstract",
                help="The backbone's folder with vocab.txt and config.json. The released SciMult "
                     "checkpoints use BiomedBERT's uncased vocabulary.")
            if st.form_submit_button("Load model"):
                if uploaded is not None:
                    path = str(save_upload(uploaded))
                if path.strip():
                    st.session_state[MODEL_KEY] = (path.strip(), tokenizer_input.strip() or None)
                else:
                    st.sidebar.warning("Give a checkpoint path or upload a file first.")
    embedder = current_embedder()
    if embedder is not None:
        show_model_summary(embedder.loaded)


def show_model_summary(loaded: LoadedModel) -> None:
    info = loaded.summary()
    experts = (f"{info['experts']} experts ({', '.join(info['expert_sublayers'])} sublayers in "
               f"layers {', '.join(map(str, info['expert_layers']))})" if loaded.is_moe
               else "single expert: every expert name uses the one encoder")
    st.sidebar.caption(
        f"**{info['model']}** · {info['architecture']}  \n{experts}  \n"
        f"{info['layers']} layers · hidden {info['hidden_size']} · {info['pooling']} pooling · "
        f"{info['score']} score  \n{info['encoders']}  \nmax {info['max_length']} tokens")


def corpus_sidebar() -> None:
    store = corpus_store()
    names = store.names()
    current = st.session_state.get(CORPUS_KEY, DEMO_CORPUS)
    if current not in names:
        current = DEMO_CORPUS
    st.sidebar.subheader("Corpus")
    st.session_state[CORPUS_KEY] = st.sidebar.selectbox(
        "Corpus", names, index=names.index(current), label_visibility="collapsed",
        help="Add, rename or delete corpora on the Corpora page.")


def sidebar() -> None:
    model_sidebar()
    corpus_sidebar()


def current_corpus() -> tuple[str, list[Document]]:
    name = st.session_state.get(CORPUS_KEY, DEMO_CORPUS)
    try:
        return name, corpus_store().load(name)
    except ScimultError as error:
        st.error(str(error))
        return DEMO_CORPUS, corpus_store().load(DEMO_CORPUS)


def documents_key(docs: list[Document]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for doc in docs:
        digest.update(doc.id.encode() + b"\x1f" + doc.model_input().encode() + b"\x1e")
    return digest.hexdigest()


def embed_texts(embedder: Embedder, texts: list[str], expert: str, side: str,
                label: str) -> np.ndarray:
    """Embed with a progress bar the first time; later calls come from memory (or disk cache)."""
    digest = hashlib.blake2b("\x1e".join(texts).encode(), digest_size=16).hexdigest()
    key = (embedder.loaded.fingerprint, embedder.loaded.expert_index(expert), side, digest)
    store = _vector_store()
    if key not in store:
        bar = st.progress(0.0, text=f"Embedding {label}…")

        def report(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Embedding {label}: {done}/{total}")

        result = embedder.embed(texts, expert, side, progress=report)
        bar.empty()
        if result.truncated:
            st.caption(f"{result.truncated} of {len(texts)} texts were cut at "
                       f"{embedder.loaded.max_length} tokens.")
        store[key] = result.vectors
    return store[key]


def corpus_vectors(embedder: Embedder, docs: list[Document], expert: str,
                   side: str = "candidate") -> np.ndarray:
    return embed_texts(embedder, [d.model_input() for d in docs], expert, side,
                       f"{len(docs)} papers ({expert} expert, {side} side)")


def expert_picker(default: str = "search", key: str = "expert", label: str = "Expert") -> str:
    names = [expert.name for expert in EXPERTS]
    return st.selectbox(label, names, index=names.index(default), key=key,
                        format_func=lambda name: get_expert(name).title,
                        help="SciMult routes every input through one task expert. "
                             + " ".join(f"{e.title}: {e.trained_for}" for e in EXPERTS))


def single_expert_note(embedder: Embedder) -> None:
    if not embedder.loaded.is_moe:
        st.info(f"{embedder.loaded.name} has a single expert: every expert choice uses the same "
                "encoder. Load a SciMult MoE checkpoint to see the experts differ.")


def paper_label(doc: Document) -> str:
    year = f" ({doc.year})" if doc.year else ""
    return f"{doc.title or doc.model_input()[:80]}{year}"


def result_card(rank: int, doc: Document, score: float, highlight: bool | None = None) -> None:
    """One ranked paper: title, year, labels, score, snippet, expandable abstract."""
    mark = f" {GOLD_MARK}" if highlight else ""
    with st.container(border=True):
        st.markdown(f"**{rank}. {doc.title or doc.id}**{mark}")
        meta = [str(doc.year) if doc.year else "", ", ".join(doc.labels), f"score {score:.3f}",
                f"id `{doc.id}`"]
        st.caption(" · ".join(part for part in meta if part))
        body = doc.abstract or doc.text
        if len(body) > 240:
            st.write(body[:240].rsplit(" ", 1)[0] + "…")
            with st.expander("Full abstract"):
                st.write(body)
        else:
            st.write(body)
