"""Retrieval metrics and the neighbour graph, on small hand-computed cases."""
import numpy as np
import pytest

from scimult_app.analysis.metrics import mean_metrics, precision_at_k, recall_at_k, reciprocal_rank
from scimult_app.analysis.neighbours import graph_layout, neighbour_graph, neighbours


def test_recall_precision_rr_by_hand():
    ranked = ["a", "b", "c", "d", "e"]
    assert recall_at_k(ranked, {"b", "e", "z"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, {"b", "e", "z"}, 5) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, [], 5) == 0.0
    assert precision_at_k(ranked, {"b", "e"}, 2) == pytest.approx(0.5)
    assert precision_at_k(ranked, {"b", "e"}, 10) == pytest.approx(0.2)  # divided by k
    assert reciprocal_rank(ranked, {"c", "e"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"a"}) == 1.0
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    with pytest.raises(ValueError):
        precision_at_k(ranked, {"a"}, 0)


def test_mean_metrics_macro_average_and_skips():
    runs = {"q1": ["a", "b", "c"], "q2": ["x", "y", "z"], "q3": ["a"]}
    qrels = {"q1": {"b"}, "q2": {"x", "w"}, "q3": set(), "q4": {"a"}}
    result = mean_metrics(runs, qrels, ks=(1, 3))
    # q1: r@1 0, r@3 1, p@1 0, p@3 1/3, rr 1/2;  q2: r@1 1/2, r@3 1/2, p@1 1, p@3 1/3, rr 1
    # q4 has no run: all 0.  q3 has no relevant id: skipped.
    assert result["queries"] == 3 and result["skipped"] == 1
    assert result["recall@1"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert result["recall@3"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result["precision@1"] == pytest.approx((0 + 1 + 0) / 3)
    assert result["precision@3"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert result["mrr"] == pytest.approx((0.5 + 1 + 0) / 3)
    empty = mean_metrics({"q": ["a"]}, {})
    assert empty["queries"] == 0 and empty["skipped"] == 1 and empty["mrr"] == 0.0


VECTORS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.7, 0.7], [-1.0, 0.0]],
                   dtype=np.float32)


def test_neighbours_excludes_itself_and_orders_by_score():
    indices, values = neighbours(0, VECTORS, VECTORS, 3, "dot")
    assert list(indices) == [1, 3, 2]
    assert values == pytest.approx([0.9, 0.7, 0.0])
    indices, _ = neighbours(0, VECTORS, VECTORS, 10, "cosine")
    assert 0 not in indices and len(indices) == 4


def test_neighbour_graph_depths():
    nodes, edges = neighbour_graph(0, VECTORS, VECTORS, 2, "dot", depth=1)
    assert nodes == [0, 1, 3]
    assert [(a, b) for a, b, _ in edges] == [(0, 1), (0, 3)]
    nodes, edges = neighbour_graph(0, VECTORS, VECTORS, 3, "dot", depth=2, per_node=1)
    assert nodes == [0, 1, 3, 2]
    pairs = {frozenset((a, b)) for a, b, _ in edges}
    # 1's best among {3, 2} is 3; 3's best among {1, 2} is 1 (0.7 vs 0.7: 1 ranks first);
    # 2's best is 3 — so the second-level edges are 1-3 and 2-3, each once
    assert pairs == {frozenset(p) for p in [(0, 1), (0, 3), (0, 2), (1, 3), (2, 3)]}
    assert len(edges) == 5
    with pytest.raises(ValueError):
        neighbour_graph(0, VECTORS, VECTORS, 2, "dot", depth=3)


def test_graph_layout_deterministic_and_bounded():
    nodes, edges = neighbour_graph(0, VECTORS, VECTORS, 4, "dot", depth=2)
    first, second = graph_layout(nodes, edges, seed=0), graph_layout(nodes, edges, seed=0)
    assert first == second and set(first) == set(nodes)
    points = np.array(list(first.values()))
    assert np.abs(points).max() <= 1.0 + 1e-9
    assert len({(round(x, 6), round(y, 6)) for x, y in points}) == len(nodes)  # no overlaps
    assert graph_layout([], []) == {} and graph_layout([7], []) == {7: (0.0, 0.0)}
