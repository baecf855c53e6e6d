"""Corpora: add papers by upload, server path or paste, check them, keep them by name; rename
and delete; see and start the embedding of a corpus."""
from pathlib import Path

import pandas as pd
import streamlit as st

from scimult_app.corpus import readers as ingest
from scimult_app.corpus.store import DEMO_CORPUS
from scimult_app.corpus.stream import count_rows
from scimult_app.engine.experts import EXPERTS
from scimult_app.errors import ScimultError
from scimult_app.services import embedding_job, ingest_job
from scimult_app.services.uploads import save_upload
from views._shared import CORPUS_KEY, corpus_store, current_choice, current_embedder, job_progress

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "json", "bib", "ris", "pdf", "txt", "md"]
ROLES = ["title", "abstract", "text", "id", "labels", "year"]
BIG = "Big file (JSONL, JSONL.gz, Parquet)"
SERVER_PATH = "Server path"
SOURCES = ["Upload files", BIG, *([SERVER_PATH] if ingest_job.paths_allowed() else []),
           "Paste text"]

st.title("Corpora")
store = corpus_store()
add_tab, manage_tab = st.tabs(["Add papers", "Manage corpora"])


def read_input(how: str) -> tuple[pd.DataFrame | None, str]:
    """The raw table from the uploads or the pasted text, with a description of its source."""
    if how == "Upload files":
        files = st.file_uploader(
            "CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF or plain text", type=UPLOAD_TYPES,
            accept_multiple_files=True, key="corpus_upload",
            help="PDFs: the text is extracted and the title guessed; edit both below.")
        tables = []
        for file in files or []:
            try:
                ingest.check_size(file.name, file.size)  # before reading it into memory
                tables.append(ingest.parse_upload(file.name, file.getvalue()))
            except ScimultError as error:
                st.error(str(error))
        names = ", ".join(f.name for f in files or [])
        return (pd.concat(tables, ignore_index=True) if tables else None), f"upload: {names}"
    text = st.text_area("Papers, separated by a blank line", height=220, key="corpus_paste",
                        placeholder="Title: ...\nAbstract: ...\n\nSecond paper title\nIts abstract ...")
    if not text.strip():
        return None, ""
    try:
        return ingest.parse_pasted(text), "pasted"
    except ScimultError as error:
        st.error(str(error))
        return None, ""


def big_source(how: str):
    """(path on the server, description) of a big upload or a server path; None until given."""
    if how == BIG:
        file = st.file_uploader("One JSONL, JSONL.gz or Parquet file, any size",
                                type=["jsonl", "ndjson", "gz", "parquet", "pq"], key="big_upload",
                                help="Read and saved as a stream: the file is never held whole. "
                                     "Fields: id, title, abstract or text, year, labels.")
        if file is None:
            return None
        saved = st.session_state.get("big_upload_saved")
        if not saved or saved[0] != file.file_id:  # save once, not on every rerun
            if not ingest_job.is_big_format(file.name):
                st.error(f"{file.name}: give a .jsonl, .jsonl.gz or .parquet file.")
                return None
            saved = (file.file_id, str(save_upload(file, file.name)))
            st.session_state["big_upload_saved"] = saved
        return saved[1], f"upload: {file.name}"
    text = st.text_input("File or folder on the server", key="corpus_path",
                         placeholder="/data/pubmed/abstracts.jsonl.gz",
                         help="A .jsonl, .jsonl.gz or .parquet file, or a folder of such shards.")
    if not text.strip():
        return None
    try:
        return str(ingest_job.checked_server_path(text)), f"path: {text.strip()}"
    except ScimultError as error:
        st.error(str(error))
        return None


@st.cache_data(max_entries=8, show_spinner="Counting papers…")
def counted(path: str, state: tuple) -> int:
    return count_rows(path)


def big_input(how: str) -> None:
    """A big corpus: a preview of its first papers, then a streamed save as a background job."""
    found = big_source(how)
    running = st.session_state.get("ingest_job")
    if running:
        job = ingest_job.JOBS.get(running)
        if job is not None:
            job_progress(job)
            if job.succeeded and job.result:
                st.session_state["ingest_saved"] = f"{job.result} It is now the current corpus."
                st.session_state[CORPUS_KEY] = job.key[len(ingest_job.PREFIX):]
            if not job.running:
                st.session_state["ingest_job"] = None
    if st.session_state.get("ingest_saved"):
        st.success(st.session_state["ingest_saved"])
    if found is None:
        st.info("Give a big file to add: it is read as a stream and saved without editing.")
        return
    path, source = found
    try:
        stat = Path(path).stat()
        total = counted(path, (stat.st_size, stat.st_mtime_ns))
        first = ingest_job.preview(path)
    except (ScimultError, OSError) as error:
        st.error(str(error))
        return
    st.caption(f"{total:,} papers in {Path(path).name}; the first {len(first)} below. Rows "
               "are saved as read (no editing here); rows without text or with a repeated id "
               "stop the save with a message naming the row.")
    st.dataframe(pd.DataFrame([{"id": d.id, "title": d.title, "abstract": d.abstract[:200],
                                "year": d.year, "labels": "; ".join(d.labels)} for d in first]),
                 hide_index=True, width="stretch")
    left, right = st.columns([3, 2])
    name = left.text_input("Corpus name", key="big_corpus_name",
                           placeholder="e.g. PubMed cardiology 2015-2024")
    mode = right.radio("If it exists", ["Refuse", "Add to it", "Replace it"], horizontal=True,
                       key="big_mode")
    if st.button("Save corpus", type="primary", key="big_save"):
        if not name.strip():
            st.error("Give the corpus a name.")
        elif name.strip() in store.names() and mode == "Refuse":
            st.error(f"A corpus called “{name.strip()}” already exists. Choose another name, "
                     "add to it, or replace it.")
        else:
            job = ingest_job.start_ingest(
                store, " ".join(name.split()), path,
                {"Refuse": "refuse", "Add to it": "add", "Replace it": "replace"}[mode],
                label=source, total=total)
            st.session_state["ingest_job"] = job.key
            st.session_state["ingest_saved"] = None
            st.rerun()


with add_tab:
    how = st.radio("From", SOURCES, horizontal=True, key="corpus_from")
    table, source = (None, "") if how in (BIG, SERVER_PATH) else read_input(how)
    if how in (BIG, SERVER_PATH):
        big_input(how)
    elif table is not None and len(table):
        st.caption(f"{len(table)} rows read. Edit cells below if needed (a PDF's guessed title, say).")
        table = st.data_editor(table, num_rows="dynamic", width="stretch", key="corpus_editor")
        guessed = ingest.guess_mapping(table)
        columns = ["(none)"] + [str(c) for c in table.columns]
        mapping = {}
        role_columns = st.columns(len(ROLES))
        for role, column in zip(ROLES, role_columns):
            default = guessed.get(role)
            mapping[role] = column.selectbox(
                role.capitalize(), columns, key=f"map_{role}",
                index=columns.index(default) if default in columns else 0)
        mapping = {role: (None if value == "(none)" else value) for role, value in mapping.items()}
        docs, skipped = ingest.to_documents_counted(table, mapping)
        if skipped:
            st.warning(f"{skipped} of {len(table)} rows have no text in the mapped title, "
                       "abstract or text columns and are left out. Map the column that holds "
                       "the text, or fill those rows in above.")
        if "pages_read" in table.columns:
            for row in table.to_dict("records"):
                if row.get("pages_read"):
                    st.caption(f"{row.get('file', 'PDF')}: read {row['pages_read']} of "
                               f"{row['pages_total']} pages; abstract cut {row['abstract_cut']}.")
        if st.checkbox("Drop duplicates (same title and abstract)", value=True):
            docs, dropped = ingest.drop_duplicates(docs)
            if dropped:
                st.caption(f"{dropped} duplicate(s) dropped.")
        embedder = current_embedder()
        if docs and embedder is not None:
            report = ingest.token_report(docs, embedder.loaded.tokenizer, embedder.loaded.max_length)
            cut = int(report["truncated"].sum())
            st.caption(f"{len(docs)} documents · median {int(report['tokens'].median())} tokens · "
                       f"{cut} over {embedder.loaded.max_length} tokens (they will be truncated; "
                       f"counts stop at {ingest.count_cap(embedder.loaded.max_length):,})")
            with st.expander("Token counts"):
                st.dataframe(report, width="stretch", hide_index=True)
        existing = store.names()
        left, right = st.columns([3, 2])
        name = left.text_input("Corpus name", key="corpus_name_input",
                               placeholder="e.g. My cardiology reading list")
        mode = right.radio("If it exists", ["Refuse", "Add to it", "Replace it"], horizontal=True)
        if st.button("Save corpus", type="primary", disabled=not docs):
            try:
                if name in existing and mode == "Add to it":
                    store.add(name, docs)
                else:
                    store.save(name, docs, source=source, overwrite=mode == "Replace it")
                st.session_state[CORPUS_KEY] = name
                st.success(f"Saved “{name}” ({len(store.load(name))} papers); it is now the "
                           "current corpus.")
            except ScimultError as error:
                st.error(str(error))
    else:
        st.info("Upload files or paste text to add papers. The demo corpus is always there.")

with manage_tab:
    rows = []
    for corpus_name in store.names():
        info = store.info(corpus_name)
        rows.append({"corpus": corpus_name, "papers": info.get("count"),
                     "created": info.get("created", ""), "source": info.get("source", "")})
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)
    editable = [n for n in store.names() if n != DEMO_CORPUS]
    if not editable:
        st.caption("Only the demo corpus so far; it cannot be renamed or deleted.")
    else:
        chosen = st.selectbox("Corpus", editable, key="manage_choice")
        left, right = st.columns(2)
        with left:
            new_name = st.text_input("New name", key="rename_to")
            if st.button("Rename") and new_name.strip():
                try:
                    store.rename(chosen, new_name.strip())
                    if st.session_state.get(CORPUS_KEY) == chosen:
                        st.session_state[CORPUS_KEY] = new_name.strip()
                    st.rerun()
                except ScimultError as error:
                    st.error(str(error))
        with right:
            sure = st.checkbox(f"Yes, delete “{chosen}”", key="delete_sure")
            if st.button("Delete", disabled=not sure):
                store.delete(chosen)
                if st.session_state.get(CORPUS_KEY) == chosen:
                    st.session_state[CORPUS_KEY] = DEMO_CORPUS
                st.rerun()

    st.subheader("Vectors")
    embedder = current_embedder()
    names = store.names()
    focus = st.selectbox("Corpus to embed", names, key="vectors_corpus",
                         index=names.index(st.session_state.get(CORPUS_KEY, DEMO_CORPUS))
                         if st.session_state.get(CORPUS_KEY, DEMO_CORPUS) in names else 0)
    if embedder is not None and focus != DEMO_CORPUS:
        expert_names = [expert.name for expert in EXPERTS]
        st.dataframe(pd.DataFrame(embedding_job.vector_sets_summary(
            store, focus, embedder.loaded, expert_names)), hide_index=True, width="stretch")
        st.caption(f"Corpora above {embedding_job.INLINE_MAX} papers are embedded in the "
                   "background into vectors on disk, a chunk at a time: pages start it when "
                   "they need it, it survives page changes and resumes after a restart.")
        left, right, button = st.columns([2, 2, 1], vertical_alignment="bottom")
        expert = left.selectbox("Expert", expert_names, key="embed_expert")
        side = right.selectbox("Side", ["candidate", "query"], key="embed_side")
        if button.button("Embed now"):
            embedding_job.start_embedding(store, focus, embedder.loaded, expert, side,
                                          current_choice())
            st.rerun()
    elif focus == DEMO_CORPUS:
        st.caption("The demo corpus is small: pages embed it directly.")
