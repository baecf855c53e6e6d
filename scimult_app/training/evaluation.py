"""Held-out evaluation of each task with its expert: recall@k and MRR, SciMult's way.

Link prediction is time-aware: a paper can only cite what came before it, so a citing paper's
candidates are the other papers published in its year or earlier (papers without a year stay
candidates). Without this, the papers that cite the query (topically its closest neighbours)
would count as errors, and no model with a shared query/candidate tower could avoid them.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from scimult_app.analysis.metrics import recall_at_k, reciprocal_rank
from scimult_app.analysis.ranking import scores, top_k
from scimult_app.corpus.documents import Document
from scimult_app.corpus.labels import label_texts
from scimult_app.engine.embedder import Embedder
from scimult_app.training.pairs import Pair


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
                  ruled_out: np.ndarray | None = None) -> dict[str, float]:
    """Rank the candidates for each held-out query under `expert` (default: the task's own).

    `ruled_out[query, candidate]` (rows in the order queries first appear in `pairs`) removes
    candidates that query may not rank.
    """
    expert = expert or task
    groups = _grouped(pairs)
    query_ids = list(groups)
    query_vectors = embedder.encode([groups[q][0] for q in query_ids], expert, "query")
    candidate_vectors = embedder.encode(candidate_texts, expert, "candidate")
    matrix = scores(query_vectors, candidate_vectors, embedder.loaded.score_function)
    order, _ = top_k(matrix, len(candidate_ids))
    recalls, reciprocal = [], []
    for row, query_id in enumerate(query_ids):
        ranked = [candidate_ids[i] for i in order[row]
                  if ruled_out is None or not ruled_out[row, i]]
        recalls.append(recall_at_k(ranked, groups[query_id][1], k))
        reciprocal.append(reciprocal_rank(ranked, groups[query_id][1]))
    return {f"recall@{k}": float(np.mean(recalls)), "MRR": float(np.mean(reciprocal)),
            "queries": len(query_ids)}


def uncitable(pairs: list[Pair], papers: list[Document]) -> np.ndarray:
    """[citing query, paper]: True for the query itself and papers published after it."""
    years = np.array([np.nan if p.year is None else p.year for p in papers], dtype=float)
    ids = np.array([p.id for p in papers])
    by_id = {p.id: p for p in papers}
    rows = []
    for query_id in _grouped(pairs):
        year = by_id[query_id].year if query_id in by_id else None
        later = years > year if year is not None else np.zeros(len(papers), dtype=bool)
        rows.append(later | (ids == query_id))
    return np.array(rows)


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
            ruled_out = uncitable(pairs, papers) if task == "link" else None
            results[task] = evaluate_task(embedder, task, pairs, paper_ids, paper_texts, k,
                                          ruled_out=ruled_out)
    return results
