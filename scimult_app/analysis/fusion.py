"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): several rankings into one.

Each list gives a document 1 / (k + rank), ranks from 1; a document's fused score is the sum
over the lists that hold it. k = 60 by default, as in the original paper.
"""
from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence], k: int = RRF_K,
                           depth: int | None = None) -> list[tuple[object, float]]:
    """(id, fused score) best first, at most `depth` of them (all by default).

    Ties go to the id with the better single rank, then to the earlier list's order.
    """
    if k < 0:
        raise ValueError(f"the RRF constant k must be 0 or more, got {k}")
    fused: dict = {}
    best_rank: dict = {}
    first_seen: dict = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, 1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
            best_rank[doc_id] = min(best_rank.get(doc_id, rank), rank)
            first_seen.setdefault(doc_id, len(first_seen))
    ordered = sorted(fused, key=lambda d: (-fused[d], best_rank[d], first_seen[d]))
    if depth is not None:
        ordered = ordered[:depth]
    return [(doc_id, fused[doc_id]) for doc_id in ordered]
