"""Retrieval metrics over ranked id lists: recall@k, precision@k, reciprocal rank, and means."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def recall_at_k(ranked_ids: Sequence, relevant_ids: Iterable, k: int) -> float:
    """Share of the relevant ids found in the first k ranked ids (0.0 if none are relevant)."""
    relevant = set(relevant_ids)
    if not relevant:
        return 0.0
    return len(relevant & set(list(ranked_ids)[:k])) / len(relevant)


def precision_at_k(ranked_ids: Sequence, relevant_ids: Iterable, k: int) -> float:
    """Share of the first k ranked ids that are relevant (divided by k)."""
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    return len(set(relevant_ids) & set(list(ranked_ids)[:k])) / k


def reciprocal_rank(ranked_ids: Sequence, relevant_ids: Iterable) -> float:
    """1 / rank (from 1) of the first relevant id; 0.0 if no relevant id is ranked."""
    relevant = set(relevant_ids)
    for rank, doc_id in enumerate(ranked_ids, 1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def mean_metrics(runs: dict, qrels: dict, ks: Sequence[int] = (10,)) -> dict:
    """Macro averages of recall@k, precision@k (each k) and MRR over the queries.

    Every query of `runs` or `qrels` is counted; a query without relevant ids is skipped
    (`skipped`), a query with relevant ids but no run counts as an empty ranking. Keys:
    `recall@k`, `precision@k`, `mrr`, `queries` (evaluated), `skipped`.
    """
    evaluated, skipped = [], 0
    for query_id in list(runs) + [q for q in qrels if q not in runs]:
        relevant = set(qrels.get(query_id) or ())
        if relevant:
            evaluated.append((list(runs.get(query_id) or []), relevant))
        else:
            skipped += 1
    count = len(evaluated)

    def mean(values: list[float]) -> float:
        return sum(values) / count if count else 0.0

    result: dict = {}
    for k in ks:
        result[f"recall@{k}"] = mean([recall_at_k(r, rel, k) for r, rel in evaluated])
        result[f"precision@{k}"] = mean([precision_at_k(r, rel, k) for r, rel in evaluated])
    result["mrr"] = mean([reciprocal_rank(r, rel) for r, rel in evaluated])
    result["queries"] = count
    result["skipped"] = skipped
    return result
