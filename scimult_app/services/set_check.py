"""That a corpus's vector set holds every paper, remembered on disk beside the set.

Checking a set means hashing every paper's text (`vectors.store.content_hash`): over a second
for 100,000 papers on two busy cores. Once a set is found complete, `complete.json` in its
folder names what was checked: the corpus's file state and paper count, where texts are cut,
and the set's revision, count and last update. A later check with the same facts (after a
server restart, say) answers at once; any change to the corpus or to the set makes it check
again.
"""
from __future__ import annotations

import json

from scimult_app.paths import atomic_write_bytes
from scimult_app.vectors.store import VectorSet

RECORD = "complete.json"


def facts(vector_set: VectorSet, corpus_state: tuple, papers: int, cut_at: int) -> dict:
    """What a completeness check depends on, as JSON-ready values."""
    return {"corpus": list(corpus_state), "papers": papers, "cut_at": cut_at,
            "revision": vector_set.revision, "count": len(vector_set),
            "updated": vector_set.manifest.get("updated")}


def recorded(vector_set: VectorSet, checked: dict) -> bool:
    """Whether the set was found complete under exactly these facts."""
    try:
        return json.loads((vector_set.folder / RECORD).read_text(encoding="utf-8")) == checked
    except (OSError, ValueError):
        return False


def record(vector_set: VectorSet, checked: dict) -> None:
    """Remember that the set was found complete under these facts (quietly skipped when the
    folder cannot be written: the next check hashes again)."""
    if recorded(vector_set, checked):
        return
    try:
        atomic_write_bytes(vector_set.folder / RECORD, json.dumps(checked).encode("utf-8"))
    except OSError:
        pass
