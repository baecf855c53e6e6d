"""Corpora: add papers by upload or paste, check them, keep them by name; rename and delete."""
import pandas as pd
import streamlit as st

from scimult_app.corpus import readers as ingest
from scimult_app.corpus.store import DEMO_CORPUS
from scimult_app.errors import ScimultError
from views._shared import CORPUS_KEY, corpus_store, current_embedder

UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "json", "bib", "ris", "pdf", "txt", "md"]
ROLES = ["title", "abstract", "text", "id", "labels", "year"]

st.title("Corpora")
store = corpus_store()
add_tab, manage_tab = st.tabs(["Add papers", "Manage corpora"])


def read_input() -> tuple[pd.DataFrame | None, str]:
    """The raw table from the uploads or the pasted text, with a description of its source."""
    how = st.radio("From", ["Upload files", "Paste text"], horizontal=True, key="corpus_from")
    if how == "Upload files":
        files = st.file_uploader(
            "CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF or plain text", type=UPLOAD_TYPES,
            accept_multiple_files=True, key="corpus_upload",
            help="PDFs: the text is extracted and the title guessed; edit both below.")
        tables = []
        for file in files or []:
            try:
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


with add_tab:
    table, source = read_input()
    if table is not None and len(table):
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
        docs = ingest.to_documents(table, mapping)
        if st.checkbox("Drop duplicates (same title and abstract)", value=True):
            docs, dropped = ingest.drop_duplicates(docs)
            if dropped:
                st.caption(f"{dropped} duplicate(s) dropped.")
        embedder = current_embedder()
        if docs and embedder is not None:
            report = ingest.token_report(docs, embedder.loaded.tokenizer, embedder.loaded.max_length)
            cut = int(report["truncated"].sum())
            st.caption(f"{len(docs)} documents · median {int(report['tokens'].median())} tokens · "
                       f"{cut} over {embedder.loaded.max_length} tokens (they will be truncated)")
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
