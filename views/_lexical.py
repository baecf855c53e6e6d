"""BM25 beside the dense expert: the cached BM25 index of a corpus and the side-by-side view
that the Search and Patients pages show when the lexical toggle is on."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from scimult_app.analysis.compare import overlap_at_k
from scimult_app.analysis.fusion import RRF_K
from scimult_app.analysis.lexical import BM25Index, beside_dense
from scimult_app.corpus.documents import Document, display_title


@st.cache_resource(show_spinner="Indexing the corpus for BM25…", max_entries=4)
def _cached_index(digest: str, _texts: tuple[str, ...]) -> BM25Index:
    return BM25Index(list(_texts))


def bm25_index(docs: Sequence[Document]) -> BM25Index:
    """The BM25 index of these papers, built once per distinct corpus and shared by sessions."""
    texts = tuple(d.model_input() for d in docs)
    digest = hashlib.blake2b("\x1e".join(texts).encode(), digest_size=16).hexdigest()
    return _cached_index(digest, texts)


def lexical_toggle(key: str) -> bool:
    return st.toggle("Show BM25 beside the expert", key=key,
                     help="BM25 ranks by shared (stemmed) words; the fused list is reciprocal "
                          f"rank fusion of BM25 and the expert (k = {RRF_K}).")


def side_by_side(query: str, dense_ids: list[str], docs: Sequence[Document], k: int,
                 expert: str, gold: set[str] | None = None, allowed=None) -> pd.DataFrame:
    """The expert's top k, BM25's top k and their fusion, side by side, with overlap@k.

    `dense_ids` is the expert's ranking (at least k ids); `allowed` (bool mask over `docs`)
    keeps BM25 to the papers the filters let through. Returns the table shown.
    """
    by_id = {d.id: d for d in docs}
    bm25_ids, fused_ids = beside_dense(bm25_index(docs), query, dense_ids, list(by_id), k, RRF_K,
                                       allowed)
    columns = {f"{expert} expert": dense_ids[:k], "BM25": bm25_ids[:k],
               f"fused (RRF, BM25 + {expert})": fused_ids[:k]}

    def title(doc_id: str | None) -> str:
        if doc_id is None:
            return ""
        mark = "✓ " if gold and doc_id in gold else ""
        return f"{mark}{display_title(by_id[doc_id])}"

    table = pd.DataFrame({name: [title(ids[i]) if i < len(ids) else "" for i in range(k)]
                          for name, ids in columns.items()},
                         index=pd.RangeIndex(1, k + 1, name="rank"))
    one, two, three = st.columns(3)
    one.metric(f"Overlap@{k}: expert and BM25", f"{overlap_at_k(dense_ids, bm25_ids, k):.2f}")
    two.metric(f"Overlap@{k}: fused and expert", f"{overlap_at_k(fused_ids, dense_ids, k):.2f}")
    three.metric(f"Overlap@{k}: fused and BM25", f"{overlap_at_k(fused_ids, bm25_ids, k):.2f}")
    st.dataframe(table, width="stretch")
    notes = []
    if len(bm25_ids) < k:
        notes.append(f"BM25 found {len(bm25_ids)} paper(s) sharing a word with the query")
    if gold:
        notes.append("✓ marks gold papers")
    if notes:
        st.caption("; ".join(notes) + ".")
    return table
