"""Papers found by their id or by words of their title or text: what a paper picker over a big
corpus lists instead of every paper."""
from __future__ import annotations

from scimult_app.corpus.documents import Document


def find_papers(docs: list[Document], query: str, limit: int = 200) -> tuple[list[int], int]:
    """Rows of the papers matching `query` (at most `limit`) and how many match in all.

    Best first: the paper whose id is the query; then papers whose id holds the query or
    whose title holds every word of it; then papers whose title, abstract and text together
    hold every word. Corpus order within each. Words match anywhere and in any case. An empty
    query matches every paper.
    """
    words = (query or "").casefold().split()
    if not words:
        return list(range(min(limit, len(docs)))), len(docs)
    whole = " ".join(words)
    exact: list[int] = []
    near: list[int] = []
    far: list[int] = []
    for row, doc in enumerate(docs):
        doc_id = str(doc.id).casefold()
        if doc_id == whole:
            exact.append(row)
            continue
        title = doc.title.casefold()
        if whole in doc_id or all(word in title for word in words):
            near.append(row)
            continue
        body = f"{title} {doc.abstract} {doc.text}".casefold()
        if all(word in body for word in words):
            far.append(row)
    found = exact + near + far
    return found[:limit], len(found)
