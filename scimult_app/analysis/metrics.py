"""Retrieval metrics over ranked id lists: recall@k, precision@k, reciprocal rank, nDCG@k, means."""
from __future__ import annotations

import math
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


def ndcg_at_k(ranked_ids: Sequence, grades: dict, k: int) -> float:
    """nDCG@k with graded relevance and linear gain (as trec_eval and BEIR compute it).

    DCG = sum over the first k ranked ids of grade / log2(rank + 1); the ideal DCG ranks every
    judged id with a grade above 0 best first. 0.0 when nothing is relevant.
    """
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}")
    gains = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, 1))
    if ideal == 0:
        return 0.0
    actual = sum(max(grades.get(doc_id, 0), 0) / math.log2(rank + 1)
                 for rank, doc_id in enumerate(list(ranked_ids)[:k], 1))
    return actual / ideal


def first_relevant_rank(ranked_ids: Sequence, relevant_ids: Iterable) -> int | None:
    """Rank (from 1) of the first relevant id, or None when none is ranked."""
    relevant = set(relevant_ids)
    for rank, doc_id in enumerate(ranked_ids, 1):
        if doc_id in relevant:
            return rank
    return None


# The evaluation's metrics, in the order reports show them
METRICS = ("ndcg@10", "mrr", "recall@100", "p@10")
METRIC_TITLES = {"ndcg@10": "nDCG@10", "mrr": "MRR", "recall@100": "Recall@100", "p@10": "P@10"}


def query_metrics(ranked_ids: Sequence, grades: dict) -> dict:
    """nDCG@10, MRR, recall@100 and P@10 of one ranking against one query's grades
    (relevant: grade above 0), and the rank of the first relevant id (None if not ranked)."""
    ranked = list(ranked_ids)
    relevant = {doc_id for doc_id, grade in grades.items() if grade > 0}
    return {"ndcg@10": ndcg_at_k(ranked, grades, 10),
            "mrr": reciprocal_rank(ranked, relevant),
            "recall@100": recall_at_k(ranked, relevant, 100),
            "p@10": precision_at_k(ranked, relevant, 10),
            "first_relevant_rank": first_relevant_rank(ranked, relevant)}
