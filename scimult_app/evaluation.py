"""Held-out evaluation of each task with its expert: recall@k and MRR, SciMult's way."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .documents import Document
from .embedder import Embedder
from .labels import label_texts
from .metrics import recall_at_k, reciprocal_rank
from .ranking import scores, top_k
from .training import Pair


def _grouped(pairs: list[Pair]) -> dict[str, tuple[str, set[str]]]:
    """query id -> (query text, relevant ids)."""
    groups: dict[str, tuple[str, set[str]]] = {}
    relevant: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        relevant[pair.query_id].add(pair.positive_id)
        groups[pair.query_id] = (pair.query, relevant[pair.query_id])
    return groups


def evaluate_task(embedder: Embedder, task: str, pairs: list[Pair], candidate_ids: list[str],
                  candidate_texts: list[str], k: int = 10, expert: str | None = None,
                  exclude_self: bool = False) -> dict[str, float]:
    """Rank every candidate for each held-out query under `expert` (default: the task's own)."""
    expert = expert or task
    groups = _grouped(pairs)
    query_ids = list(groups)
    query_vectors = embedder.encode([groups[q][0] for q in query_ids], expert, "query")
    candidate_vectors = embedder.encode(candidate_texts, expert, "candidate")
    matrix = scores(query_vectors, candidate_vectors, embedder.loaded.score_function)
    position = {doc_id: i for i, doc_id in enumerate(candidate_ids)}
    exclude = [position.get(q) for q in query_ids] if exclude_self else None
    order, _ = top_k(matrix, len(candidate_ids), exclude)
    recalls, reciprocal = [], []
    for row, query_id in enumerate(query_ids):
        ranked = [candidate_ids[i] for i in order[row]]
        recalls.append(recall_at_k(ranked, groups[query_id][1], k))
        reciprocal.append(reciprocal_rank(ranked, groups[query_id][1]))
    return {f"recall@{k}": float(np.mean(recalls)), "MRR": float(np.mean(reciprocal)),
            "queries": len(query_ids)}


def evaluate_all(embedder: Embedder, held_out: dict[str, list[Pair]], papers: list[Document],
                 labels: list, k: int = 10) -> dict[str, dict[str, float]]:
    """Search and link rank the corpus; classification ranks the label texts."""
    paper_ids, paper_texts = [p.id for p in papers], [p.model_input() for p in papers]
    results = {}
    for task, pairs in held_out.items():
        if task == "classification":
            results[task] = evaluate_task(embedder, task, pairs, [l.label for l in labels],
                                          label_texts(labels), k)
        else:
            results[task] = evaluate_task(embedder, task, pairs, paper_ids, paper_texts, k,
                                          exclude_self=task == "link")
    return results
