"""Comparing experts: overlap, agreement tables, per-query lists, Procrustes alignment."""
import numpy as np
import pytest

from scimult_app.analysis.compare import agreement, align, overlap_at_k, top_k_by_expert
from scimult_app.analysis.reduction import sample_rows


def test_overlap_at_k_by_hand():
    assert overlap_at_k(["a", "b", "c", "d"], ["b", "a", "x", "d"], 2) == 1.0
    assert overlap_at_k(["a", "b", "c", "d"], ["b", "x", "a", "d"], 2) == 0.5
    assert overlap_at_k(["a", "b", "c", "d"], ["b", "x", "a", "d"], 4) == 0.75
    assert overlap_at_k(["a", "b"], ["a", "b"], 10) == 1.0  # cut to the lists' length
    assert overlap_at_k([], [], 3) == 0.0
    with pytest.raises(ValueError):
        overlap_at_k(["a"], ["a"], 0)


def test_procrustes_recovers_rotated_reflected_scaled_shifted_copy():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(40, 2)).astype(np.float32)
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    reflection = np.array([[1.0, 0.0], [0.0, -1.0]])
    moved = 3.5 * reference @ rotation @ reflection + np.array([10.0, -4.0])
    aligned = align(reference, moved.astype(np.float32))
    assert aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, reference, atol=1e-4)
    # noise: alignment still brings the map much closer than it was
    noisy = moved + rng.normal(scale=0.05, size=moved.shape)
    assert np.abs(align(reference, noisy) - reference).max() < 0.1
    np.testing.assert_allclose(align(reference, reference), reference, atol=1e-5)
    with pytest.raises(ValueError):
        align(reference, reference[:-1])
    flat = align(reference, np.zeros_like(reference))  # degenerate: all at the centre
    np.testing.assert_allclose(flat, np.tile(reference.mean(axis=0), (40, 1)), atol=1e-6)


def corpus(seed: int, n: int = 30, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_agreement_identical_and_different_experts():
    same = corpus(1)
    other = corpus(2)
    table = agreement({"search": (same, same), "link": (same, same),
                       "classification": (other, other)}, k=5, score_function="cosine")
    assert table.index.tolist() == table.columns.tolist() == ["search", "link", "classification"]
    np.testing.assert_allclose(np.diag(table.values), 1.0)
    assert table.loc["search", "link"] == 1.0
    assert table.loc["search", "classification"] < 0.6
    assert table.loc["search", "classification"] == table.loc["classification", "link"]
    np.testing.assert_allclose(table.values, table.values.T)


def test_agreement_on_a_sample_of_queries():
    a, b = corpus(1, n=60), corpus(2, n=60)
    experts = {"x": (a, a), "y": (b, b)}
    full = agreement(experts, k=5, score_function="cosine")
    assert agreement(experts, k=5, score_function="cosine", sample=60).equals(full)
    sampled = agreement(experts, k=5, score_function="cosine", sample=12, seed=3)

    def nearest(vectors, row):  # by hand: every other paper is a candidate
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        order = [i for i in np.argsort(-(unit @ unit[row]), kind="stable") if i != row]
        return set(order[:5])

    rows = sample_rows(60, 12, seed=3)
    expected = np.mean([len(nearest(a, r) & nearest(b, r)) / 5 for r in rows])
    assert sampled.loc["x", "y"] == pytest.approx(expected)
    assert sampled.loc["x", "x"] == 1.0


def test_agreement_by_hand_on_a_line():
    # four directions, two close pairs: 0-1 and 2-3
    a = np.array([[1, 0], [0.9, 0.1], [0.1, 0.9], [0, 1]], dtype=np.float32)
    b = a[:, ::-1].copy()  # mirrored: same neighbour structure, so full agreement at k = 1
    table = agreement({"x": (a, a), "y": (b, b)}, k=1, score_function="cosine")
    assert table.loc["x", "y"] == 1.0
    c = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]], dtype=np.float32)
    # under c: 0<->2, 1<->3, 2->0, 3->1; under a: 0->1, 1->0, 2->3, 3->2 -> no overlap
    assert agreement({"x": (a, a), "z": (c, c)}, k=1, score_function="cosine").loc["x", "z"] == 0.0
    # k above n - 1 is cut: with 4 papers every list holds the 3 others
    assert agreement({"x": (a, a), "z": (c, c)}, k=10).loc["x", "z"] == 1.0
    lonely = agreement({"x": (a[:1], a[:1]), "z": (c[:1], c[:1])})
    assert lonely.loc["x", "x"] == 1.0 and np.isnan(lonely.loc["x", "z"])


def test_top_k_by_expert_for_one_query():
    ids = ["p0", "p1", "p2", "p3"]
    a = np.array([[1, 0], [0.9, 0.1], [0.1, 0.9], [0, 1]], dtype=np.float32)
    c = np.array([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]], dtype=np.float32)
    ranked, overlaps = top_k_by_expert({"x": (a[0], a), "z": (c[0], c)}, ids, k=2,
                                       score_function="dot", exclude=0)
    assert ranked.index.tolist() == [1, 2]
    assert ranked["x"].tolist() == ["p1", "p2"] and ranked["z"].tolist() == ["p2", "p3"]
    assert overlaps.loc["x", "z"] == 0.5 and overlaps.loc["x", "x"] == 1.0
    ranked, _ = top_k_by_expert({"x": (a[:1], a)}, ids, k=3)
    assert ranked["x"].tolist() == ["p0", "p1", "p2"]  # no exclusion: a query, not a paper
