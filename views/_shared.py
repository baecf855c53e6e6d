"""The widgets and cached resources every page shares: model picker, corpus picker, embeddings."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from scimult_app import builtin
from scimult_app.analysis.finding import find_papers
from scimult_app.analysis.moving import tween
from scimult_app.analysis.occlusion import (
    SHORT_QUERY_WORDS,
    Explanation,
    explain_paper,
    explain_query,
    split_words,
)
from scimult_app.analysis.projection import FIT_SAMPLE
from scimult_app.corpus.documents import Document, display_label, display_title
from scimult_app.corpus.store import DEMO_CORPUS, CorpusStore
from scimult_app.engine.embedder import Embedder
from scimult_app.engine.experts import EXPERTS, get_expert
from scimult_app.engine.loading import LoadedModel
from scimult_app.errors import ScimultError
from scimult_app.models import default_model, model_key, open_model
from scimult_app.paths import paths_allowed
from scimult_app.services import embedding_job
from scimult_app.services.demo_build import demo_build_job
from scimult_app.services.embedding_job import CorpusVectors, corpus_vectors_status, job_line
from scimult_app.services.jobs import Job
from scimult_app.services.memo import VectorMemo, embed_memoized
from scimult_app.services.uploads import save_upload

MODEL_KEY = "model_choice"  # (source, tokenizer) in session state
CORPUS_KEY = "corpus_name"
# the sidebar widgets' own keys; MODEL_KEY and CORPUS_KEY stay the state pages read and write
KIND_WIDGET = "model_kind"
BUILTIN_WIDGET = "builtin_model_picker"
CORPUS_WIDGET = "corpus_picker"
_SHOWN_KEY = "_model_choice_shown"  # the choice the model widgets were last synced to
GOLD_MARK = ":green[:material/check_circle: gold]"


@st.cache_resource
def library_log() -> logging.Logger:
    """The library's INFO lines (models loaded, vector memo size) on the server's stderr, once."""
    logger = logging.getLogger("scimult_app")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


library_log()


@st.cache_resource
def plotly_ready() -> bool:
    """Build each trace type once before sessions run in parallel: plotly creates its validators
    and optional imports lazily, and two sessions doing that at once raised inside plotly."""
    import pandas as pd
    import plotly.graph_objects as go
    column = pd.Series([1.0, 2.0])
    for trace in (go.Scatter, go.Scattergl):
        go.Figure(trace(x=np.array([0.0, 1.0]), y=column, mode="markers+text", text=["a", "b"],
                        customdata=np.array([["a"], ["b"]]), hovertext=column, hoverinfo="text",
                        marker={"size": [6, 8], "color": column, "colorscale": "Viridis"},
                        line={"width": 1}, textposition="top center", showlegend=False)
                  ).to_plotly_json()
    return True


plotly_ready()


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _cached_embedder(source: str, tokenizer: str | None, content: tuple) -> Embedder:
    """One model per content (`model_key`), shared by every session and loaded once."""
    return Embedder(open_model(source, tokenizer or None))


def cached_embedder(source: str, tokenizer: str | None) -> Embedder:
    """The loaded model for this choice, keyed by what the files hold, not by their path: a
    new upload or a retrained model under an old name is loaded anew."""
    if source in builtin.NAMES and not builtin.is_built(source):
        builtin.ensure(source)  # build first, so the model is keyed (and loaded) once
    return _cached_embedder(source, tokenizer, model_key(source, tokenizer))


@st.cache_resource
def vector_memo() -> VectorMemo:
    """Vectors shared by every session, bounded by bytes (SCIMULT_APP_MEMO_MB, default 1024)."""
    return VectorMemo(int(os.environ.get("SCIMULT_APP_MEMO_MB", "1024")) << 20)


@st.cache_resource
def corpus_store() -> CorpusStore:
    return CorpusStore()


def current_choice() -> tuple[str, str | None]:
    return st.session_state.get(MODEL_KEY, (default_model(), None))


def demo_status() -> None:
    job = demo_build_job()
    if job is not None and not builtin.is_built("demo"):
        with st.sidebar:
            _demo_progress(job)


@st.fragment(run_every=3)
def _demo_progress(job: Job) -> None:
    """Refreshes itself every few seconds; reruns the app when the demo model is ready."""
    if builtin.is_built("demo"):
        st.rerun()
    if job.error:
        st.warning(f"The demo model could not be built ({job.error}); minilm is in use.")
    elif job.running:
        st.progress(job.fraction, text=f"{job.status_line()}. minilm is in use meanwhile.")


def job_progress(job: Job) -> None:
    """A background job's progress with a Cancel button; the page reruns when it ends."""
    was_running = job.running

    @st.fragment(run_every=2 if was_running else None)
    def show() -> None:
        if job.running:
            st.progress(job.fraction, text=job.status_line())
            if st.button("Cancel", key=f"cancel-{job.key}"):
                job.cancel()
        elif was_running:
            st.rerun()  # finished since the page ran: draw the result
        elif job.error:
            (st.info if job.error == "cancelled" else st.error)(f"{job.title}: {job.error}.")

    show()


def require_model_and_corpus(min_papers: int = 1) -> tuple[Embedder, str, list[Document]]:
    """The chosen model and corpus, or stop the page with a message saying what is missing."""
    embedder = current_embedder()
    corpus_name, docs = current_corpus()
    if embedder is None:
        st.stop()
    if len(docs) < min_papers:
        st.info(f"This page needs a corpus of at least {min_papers} papers; “{corpus_name}” has "
                f"{len(docs)}. Add papers on the Corpora page or pick another corpus.")
        st.stop()
    return embedder, corpus_name, docs


def current_embedder() -> Embedder | None:
    """The chosen model, or None (with the error shown) when it cannot be loaded."""
    source, tokenizer = current_choice()
    try:
        return cached_embedder(source, tokenizer)
    except ScimultError as error:
        st.error(f"The model could not be loaded. {error}")
        return None


def _set_choice(choice: tuple[str, str | None]) -> None:
    st.session_state[MODEL_KEY] = choice


def _on_builtin_pick() -> None:
    _set_choice((st.session_state[BUILTIN_WIDGET], None))


def _sync_widget(key: str, value) -> None:
    """Show `value` in the widget `key` before it is drawn (a callback already stored the user's
    change, so this only catches changes made elsewhere: the Train page, a saved corpus)."""
    if st.session_state.get(key) != value:
        st.session_state[key] = value


def model_sidebar() -> None:
    """Model picker: a built-in, a checkpoint by path, or an uploaded checkpoint.

    Each widget has a key and no computed `index`: a widget whose default moves with the state
    it writes is re-created on the next run and snaps back, losing every second change.
    """
    st.sidebar.subheader("Model")
    demo_status()
    source, tokenizer = current_choice()
    allow_paths = paths_allowed()  # SCIMULT_APP_ALLOW_PATHS=0: uploads and built-ins only
    kinds = ["Built-in", "Checkpoint path", "Upload checkpoint"] if allow_paths else \
        ["Built-in", "Upload checkpoint"]
    if KIND_WIDGET not in st.session_state or st.session_state.get(_SHOWN_KEY) != (source, tokenizer):
        # the choice changed elsewhere (or this is the first run): show where it came from
        st.session_state[KIND_WIDGET] = kinds[0] if source in builtin.NAMES else (
            st.session_state.get(KIND_WIDGET) if st.session_state.get(KIND_WIDGET) in kinds[1:]
            else kinds[1])
    st.session_state[_SHOWN_KEY] = (source, tokenizer)
    kind = st.sidebar.radio("Model source", kinds, horizontal=True,
                            label_visibility="collapsed", key=KIND_WIDGET)
    if kind == "Built-in":
        ready = [n for n in builtin.NAMES if n != "demo" or builtin.is_built("demo")]
        if source not in ready:  # a path was chosen before, or demo is not built yet
            source, tokenizer = ready[0] if default_model() not in ready else default_model(), None
            _set_choice((source, None))
            st.session_state[_SHOWN_KEY] = (source, None)
        _sync_widget(BUILTIN_WIDGET, source)
        st.sidebar.selectbox("Built-in model", ready, key=BUILTIN_WIDGET, on_change=_on_builtin_pick,
                             help="minilm: all-MiniLM-L6-v2, one expert. demo: MiniLM made "
                                  "a 3-expert MoE and trained on the demo data's tasks.")
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
                st.caption(upload_limit_note(allow_paths))
            vocab_upload = None
            if allow_paths:
                tokenizer_input = st.text_input(
                    "Tokenizer folder (vocab.txt)", value=tokenizer or "",
                    placeholder="/models/BiomedNLP-BiomedBERT-base-uncased-abstract",
                    help="The backbone's folder with vocab.txt and config.json. The released "
                         "SciMult checkpoints use BiomedBERT's uncased vocabulary.")
            else:
                tokenizer_input = ""
                vocab_upload = st.file_uploader(
                    "Tokenizer vocab.txt (optional)", type=["txt"],
                    help="The backbone's vocab.txt (BiomedBERT's for the released SciMult "
                         "checkpoints); without it the tokenizer is looked up in the server's "
                         "Hugging Face cache.")
            if st.form_submit_button("Load model"):
                if uploaded is not None:
                    path = str(save_upload(uploaded, uploaded.name))
                if vocab_upload is not None:
                    tokenizer_input = str(save_upload(vocab_upload, "vocab.txt"))
                if path.strip():
                    choice = (path.strip(), tokenizer_input.strip() or None)
                    _set_choice(choice)
                    st.session_state[_SHOWN_KEY] = choice
                else:
                    st.sidebar.warning("Give a checkpoint path or upload a file first."
                                       if allow_paths else "Upload a checkpoint file first.")
    embedder = current_embedder()
    if embedder is not None:
        show_model_summary(embedder.loaded)


def upload_limit_note(allow_paths: bool) -> str:
    """The upload limit, and the better way for very large checkpoints."""
    limit = st.get_option("server.maxUploadSize")
    better = ("very large checkpoints are best given by path (Checkpoint path)" if allow_paths
              else "for very large checkpoints, run the app on your own machine and give the "
                   "path")
    return (f"Up to {limit} MB. An upload is held in the server's memory until it is saved to "
            f"disk, so {better}.")


def show_model_summary(loaded: LoadedModel) -> None:
    info = loaded.summary()
    experts = (f"{info['experts']} experts ({', '.join(info['expert_sublayers'])} sublayers in "
               f"layers {', '.join(map(str, info['expert_layers']))})" if loaded.is_moe
               else "single expert: every expert name uses the one encoder")
    st.sidebar.caption(
        f"**{info['model']}** · {info['architecture']}  \n{experts}  \n"
        f"{info['layers']} layers · hidden {info['hidden_size']} · {info['pooling']} pooling · "
        f"{info['score']} score  \n{info['encoders']}  \nmax {info['max_length']} tokens")


def _on_corpus_pick() -> None:
    st.session_state[CORPUS_KEY] = st.session_state[CORPUS_WIDGET]


def corpus_sidebar() -> None:
    """Corpus picker: a keyed widget; its value is copied to CORPUS_KEY by a callback."""
    names = corpus_store().names()
    current = st.session_state.get(CORPUS_KEY, DEMO_CORPUS)
    if current not in names:
        current = DEMO_CORPUS
    st.session_state[CORPUS_KEY] = current
    _sync_widget(CORPUS_WIDGET, current)
    st.sidebar.subheader("Corpus")
    st.sidebar.selectbox("Corpus", names, key=CORPUS_WIDGET, on_change=_on_corpus_pick,
                         label_visibility="collapsed",
                         help="Add, rename or delete corpora on the Corpora page.")


def sidebar() -> None:
    model_sidebar()
    corpus_sidebar()
    embedding_sidebar()


@st.cache_resource(max_entries=8, show_spinner=False)
def _resumed(source: str, tokenizer: str | None) -> int:
    """Once per server and model: restart the embeddings a previous server left unfinished."""
    embedder = cached_embedder(source, tokenizer)
    return len(embedding_job.resume_pending(corpus_store(), embedder.loaded, (source, tokenizer)))


def embedding_sidebar() -> None:
    """Every running embedding, on every page: progress, rate, time left, Cancel."""
    source, tokenizer = current_choice()
    try:
        _resumed(source, tokenizer)
    except ScimultError:
        pass  # the model sidebar already says why the model cannot be loaded
    if embedding_job.embedding_jobs():
        with st.sidebar:
            st.subheader("Embedding")
            _embedding_progress()


@st.fragment(run_every=2)
def _embedding_progress() -> None:
    """Refreshes itself; reruns the page when a job it showed has ended (results can appear)."""
    shown = st.session_state.setdefault("embedding_jobs_shown", set())
    jobs = embedding_job.embedding_jobs(running_only=False)
    if any(job.key in shown and not job.running for job in jobs):
        st.session_state["embedding_jobs_shown"] = {job.key for job in jobs if job.running}
        st.rerun(scope="app")
    for job in jobs:
        if job.running:
            shown.add(job.key)
            st.progress(job.fraction, text=job_line(job))
            if st.button("Cancel", key=f"sidebar-cancel-{job.key}"):
                embedding_job.cancel(job)


def current_corpus() -> tuple[str, list[Document]]:
    name = st.session_state.get(CORPUS_KEY, DEMO_CORPUS)
    try:
        return name, corpus_store().load(name)
    except ScimultError as error:
        st.error(str(error))
        return DEMO_CORPUS, corpus_store().load(DEMO_CORPUS)


def embed_texts(embedder: Embedder, texts: list[str], expert: str, side: str,
                label: str) -> np.ndarray:
    """Embed with a progress bar the first time; later calls come from memory (or disk cache)."""
    bar = st.empty()

    def report(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Embedding {label}: {done}/{total}")

    vectors, truncated = embed_memoized(vector_memo(), embedder, texts, expert, side, report)
    bar.empty()
    if truncated:
        st.caption(f"{truncated} of {len(texts)} texts were cut at "
                   f"{embedder.loaded.max_length} tokens.")
    return vectors


def corpus_vectors(embedder: Embedder, docs: list[Document], expert: str,
                   side: str = "candidate", corpus: str | None = None) -> np.ndarray:
    """The corpus's vectors. Small corpora (or docs not from a stored corpus) are embedded here
    with a progress bar; a stored corpus above INLINE_MAX papers comes from its vector set on
    disk, filled by a background job: until it is complete the page says what is missing and
    stops (its widgets above stay usable), and reruns itself when the job ends."""
    if corpus is None or len(docs) <= embedding_job.INLINE_MAX:
        return embed_texts(embedder, [d.model_input() for d in docs], expert, side,
                           f"{len(docs)} papers ({expert} expert, {side} side)")
    status = corpus_vectors_status(corpus_store(), corpus, docs, embedder.loaded, expert, side,
                                   model_source=current_choice())
    if status.ready:
        return status.vectors
    waiting_panel(status, embedder)
    st.stop()


def waiting_panel(status: CorpusVectors, embedder: Embedder) -> None:
    """What is missing, live progress with Cancel, or a Resume button after a cancel."""
    job = status.job

    @st.fragment(run_every=2 if job is not None and job.running else None)
    def show() -> None:
        if job is not None and job.running:
            st.info(status.waiting_message(), icon=":material/hourglass_top:")
            st.progress(job.fraction, text=job_line(job))
            if st.button("Cancel embedding", key=f"cancel-{job.key}"):
                embedding_job.cancel(job)
                st.rerun(scope="app")
        elif job is not None and job.running is False and status.job is job and \
                job.error is None:
            st.rerun(scope="app")  # finished since the page ran: draw the results
        else:
            st.info(status.waiting_message())
            if st.button("Resume embedding" if job is not None else "Embed now",
                         key=f"resume-{status.folder}", type="primary"):
                embedding_job.start_embedding(corpus_store(), status.corpus, embedder.loaded,
                                              status.expert, status.side, current_choice())
                st.rerun(scope="app")

    show()


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
    """`title (year) · id`; papers without a title go by their first words."""
    return display_label(doc)


def map_points() -> int:
    """Above this many papers (SCIMULT_APP_MAP_POINTS, default 8000) the Map and Experts pages
    draw a sampled map: density and a stated number of points."""
    return int(os.environ.get("SCIMULT_APP_MAP_POINTS", "8000"))


def map_sample() -> int:
    """Papers UMAP is fitted on in a sampled map (SCIMULT_APP_MAP_SAMPLE, default FIT_SAMPLE)."""
    return int(os.environ.get("SCIMULT_APP_MAP_SAMPLE", FIT_SAMPLE))


PICKER_SHOWN = 200  # papers a search lists in a big corpus's picker


def picker_max() -> int:
    """Up to this many papers a picker lists them all (SCIMULT_APP_PICKER_MAX, default 3000);
    above, it lists what a search box finds."""
    return int(os.environ.get("SCIMULT_APP_PICKER_MAX", "3000"))


def _found(docs: list[Document], query: str, key: str) -> tuple[list[int], int]:
    """`find_papers`, kept for this session until the query or the corpus changes (a search
    over 100,000 papers takes a few tenths of a second; a page reruns on every click)."""
    asked = (query, id(docs), len(docs))
    kept = st.session_state.get(f"{key}_found")
    if kept is None or kept[0] != asked:
        kept = (asked, *find_papers(docs, query, PICKER_SHOWN))
        st.session_state[f"{key}_found"] = kept
    return kept[1], kept[2]


def paper_picker(label: str, docs: list[Document], key: str, focus_key: str | None = None,
                 format_func: Callable[[Document], str] = paper_label,
                 noun: str = "paper") -> int:
    """The row of the chosen paper. The chosen paper's id lives in `st.session_state[focus_key]`
    (default `<key>_id`), so another page can open a paper by setting it (the Map does).
    `noun` names what is picked in the search box and caption ("paper", "patient").

    Up to `picker_max()` papers one selectbox lists them all. Above, a search box (an id, or
    words of a title or text) fills the selectbox with the first PICKER_SHOWN matches, the
    chosen paper first, and a caption says how many matched: a browser is never sent 100,000
    options. The selectbox is keyed and its choice stored by a callback, with no computed
    index: every pick counts.
    """
    focus_key = focus_key or f"{key}_id"
    focus = st.session_state.get(focus_key)
    start = st.session_state.get(key)
    if not (isinstance(start, int) and 0 <= start < len(docs) and docs[start].id == focus):
        start = next((row for row, doc in enumerate(docs) if doc.id == focus), 0)
    st.session_state[focus_key] = docs[start].id
    note = ""
    if len(docs) <= picker_max():
        options: range | list[int] = range(len(docs))
    else:
        query = st.text_input(f"Find a {noun}", key=f"{key}_query",
                              placeholder="an id, or words of its title or text")
        rows, total = _found(docs, query, key)
        options = [start, *(row for row in rows if row != start)]
        if not query.strip():
            note = (f"{len(docs):,} {noun}s: the first {len(rows):,} are listed. Type an id or "
                    "words of a title or text above to find others.")
        elif not total:
            note = f"No {noun} matches “{query.strip()}”."
        else:
            listed = "listed" if total <= len(rows) else f"the first {len(rows):,} listed"
            note = f"{total:,} {noun}s match “{query.strip()}”, {listed}."
    if st.session_state.get(key) != start:  # chosen elsewhere (the Map) or a new corpus
        st.session_state[key] = start

    def remember() -> None:
        st.session_state[focus_key] = docs[st.session_state[key]].id

    chosen = st.selectbox(label, options, key=key, on_change=remember,
                          format_func=lambda row: format_func(docs[row]))
    if note:
        st.caption(note)
    return chosen


def result_card(rank: int, doc: Document, score: float, highlight: bool | None = None,
                explain: Callable[[], tuple[Explanation | None, Explanation]] | None = None,
                key: str = "card") -> None:
    """One ranked paper: title, year, labels, score, snippet, expandable abstract; with
    `explain`, a "Why this match" toggle that computes and shows the occlusion highlights."""
    mark = f" {GOLD_MARK}" if highlight else ""
    with st.container(border=True):
        st.markdown(f"**{rank}. {display_title(doc)}**{mark}")
        meta = [str(doc.year) if doc.year else "", ", ".join(doc.labels), f"score {score:.3f}",
                f"id `{doc.id}`"]
        st.caption(" · ".join(part for part in meta if part))
        if explain is not None and st.toggle("Why this match", key=f"{key}_explain_{rank}_{doc.id}",
                                             help=OCCLUSION_HELP):
            with st.spinner("Scoring the paper with each sentence left out…"):
                query_explanation, paper_explanation = explain()
            show_explanation(paper_explanation, query_explanation)
            return
        body = doc.abstract or doc.text
        if len(body) > 240:
            st.write(body[:240].rsplit(" ", 1)[0] + "…")
            with st.expander("Full abstract"):
                st.write(body)
        else:
            st.write(body)


OCCLUSION_HELP = ("Occlusion: the paper is scored again with each sentence (and the title) left "
                  "out, and a short query with each word left out, under the chosen expert. "
                  "Green: leaving it out lowers the score (it supports the match); red: leaving "
                  "it out raises the score. Stronger colour, bigger change.")


def explain_pair(embedder: Embedder, query: str, doc: Document, expert: str
                 ) -> tuple[Explanation | None, Explanation]:
    """Occlusion of the paper's sentences and, for a short query, of the query's words."""
    paper = explain_paper(embedder, query, doc, expert)
    short = 1 < len(split_words(query)) <= SHORT_QUERY_WORDS
    words = explain_query(embedder, query, doc.model_input(), expert) if short else None
    return words, paper


def _shade(weight: float) -> str:
    """Background for a unit: green when it supports the match, red when it works against it."""
    alpha = 0.08 + 0.5 * abs(weight) if weight else 0.0
    colour = "46, 160, 67" if weight > 0 else "248, 81, 73"
    return f"rgba({colour}, {alpha:.2f})"


_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'\\`*_[]#~$|"}


def _escape(text: str) -> str:
    """Text safe inside st.markdown with HTML: no tags, no Markdown emphasis, no LaTeX."""
    return "".join(_ENTITIES.get(c, c) for c in text)


def highlighted_html(explanation: Explanation, part: str) -> str:
    """`part` of the explained text as HTML, each unit shaded by its score change (escaped)."""
    text = explanation.parts.get(part, "")
    pieces, position = [], 0
    for unit, weight in zip(explanation.units, explanation.weights()):
        if unit.part != part:
            continue
        pieces.append(_escape(text[position:unit.start]))
        pieces.append(f'<span style="background:{_shade(weight)};border-radius:3px;padding:0 2px" '
                      f'title="{unit.delta:+.4f}">{_escape(unit.text)}</span>')
        position = unit.end
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def show_explanation(paper: Explanation, query: Explanation | None = None) -> None:
    """The highlighted query words, title and abstract, and the strongest sentence in words."""
    if query is not None and query.units:
        st.markdown(f"Query: {highlighted_html(query, 'query')}", unsafe_allow_html=True)
    if paper.parts.get("text"):
        st.markdown(highlighted_html(paper, "text"), unsafe_allow_html=True)
    else:
        if paper.parts.get("title"):
            st.markdown(f"<b>{highlighted_html(paper, 'title')}</b>", unsafe_allow_html=True)
        st.markdown(highlighted_html(paper, "abstract"), unsafe_allow_html=True)
    if paper.units:
        best = paper.top(1)[0]
        st.caption(f"{paper.expert} expert · score {paper.score:.3f} · leaving out “"
                   f"{best.text[:80]}{'…' if len(best.text) > 80 else ''}” changes it by "
                   f"{-best.delta:+.4f}. Green supports the match, red works against it.")


def moving_map_figure(start: np.ndarray, end: np.ndarray, groups: list[str], hover: list[str],
                      title: str = "", steps: int = 12) -> go.Figure:
    """An animated map: points travel from `start` to `end` in eased frames (▶ Play, ◀ Back and
    a slider), one trace per group so the legend keeps its colours in every frame."""
    frames = tween(start, end, steps)
    members: dict[str, list[int]] = {}
    for position, group in enumerate(groups):
        members.setdefault(group, []).append(position)
    order = sorted(members)

    def traces(coords: np.ndarray) -> list[go.Scatter]:
        return [go.Scatter(x=coords[members[g], 0], y=coords[members[g], 1], mode="markers",
                           name=g, hovertext=[hover[i] for i in members[g]], hoverinfo="text",
                           marker={"size": 7}) for g in order]

    every = np.vstack(frames) if len(start) else np.zeros((1, 2))
    low, high = every.min(axis=0), every.max(axis=0)
    pad = (high - low) * 0.05 + 1e-6
    timing = {"frame": {"duration": 90, "redraw": False}, "transition": {"duration": 80}}
    play = {"args": [None, {**timing, "fromcurrent": True}], "label": "▶ Play",
            "method": "animate"}
    back = {"args": [[str(i) for i in reversed(range(len(frames)))],
                     {**timing, "mode": "immediate"}], "label": "◀ Back", "method": "animate"}
    figure = go.Figure(data=traces(frames[0]),
                       frames=[go.Frame(data=traces(f), name=str(i)) for i, f in enumerate(frames)])
    figure.update_layout(
        height=520, margin={"l": 0, "r": 0, "t": 30, "b": 0}, title=title,
        xaxis={"visible": False, "range": [low[0] - pad[0], high[0] + pad[0]]},
        yaxis={"visible": False, "range": [low[1] - pad[1], high[1] + pad[1]]},
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": 1.08,
                      "xanchor": "left", "direction": "left", "buttons": [play, back]}],
        sliders=[{"active": 0, "currentvalue": {"prefix": "step "}, "pad": {"t": 10},
                  "steps": [{"args": [[str(i)], {"frame": {"duration": 0, "redraw": False},
                                                 "mode": "immediate"}],
                             "label": str(i), "method": "animate"} for i in range(len(frames))]}])
    return figure
