"""Named clusters: KMeans and HDBSCAN, TF-IDF keywords, centres, and naming by the
classification expert on the demo corpus against the gold fields."""
from collections import Counter

import numpy as np
import pytest

from scimult_app.analysis import projection
from scimult_app.analysis.clusters import (
    NOISE,
    ClusterName,
    cluster_centres,
    cluster_keywords,
    hdbscan_clusters,
    kmeans_clusters,
    name_clusters,
    sampled_hdbscan_clusters,
    sampled_kmeans_clusters,
    unnamed_clusters,
)
from scimult_app.analysis.reduction import sample_rows
from scimult_app.corpus import demo
from scimult_app.corpus.labels import Label, label_texts, read_label_set
from scimult_app.engine.embedder import Embedder


def blobs_2d(per: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    points = np.vstack([rng.normal(c, 0.5, (per, 2)) for c in centres])
    return np.vstack([points, [[30.0, 30.0]]])  # one far outlier


def test_kmeans_moved_and_old_name_still_works():
    points = blobs_2d()[:-1]
    assert projection.clusters is kmeans_clusters
    assert kmeans_clusters(points, 3).tolist() == [0] * 20 + [1] * 20 + [2] * 20


def test_hdbscan_finds_blobs_and_marks_noise():
    points = blobs_2d()
    ids = hdbscan_clusters(points, min_cluster_size=5)
    assert ids[-1] == NOISE
    assert ids[0] == 0  # numbered by first appearance
    for blob in range(3):  # each blob is one cluster of its own
        members = ids[blob * 20:(blob + 1) * 20]
        assert len(set(members.tolist()) - {NOISE}) == 1
    assert len(set(ids.tolist()) - {NOISE}) == 3
    assert hdbscan_clusters(points[:3]).tolist() == [0, 0, 0]


def test_centres_and_keywords():
    coords = np.array([[0, 0], [2, 0], [10, 10], [12, 10], [50, 50]], dtype=float)
    ids = np.array([0, 0, 1, 1, NOISE])
    assert cluster_centres(coords, ids) == {0: (1.0, 0.0), 1: (11.0, 10.0)}
    texts = ["coral reef bleaching", "reef fish and coral", "graph kernels on graphs",
             "fast graph kernels", "the and of"]
    keywords = cluster_keywords(texts, ids, n_keywords=2)
    assert set(keywords) == {0, 1}
    assert set(keywords[0]) == {"coral", "reef"} and set(keywords[1]) == {"graph", "kernels"}
    assert cluster_keywords(["the", "and"], np.array([0, 0])) == {0: []}
    unnamed = unnamed_clusters(ids, texts, n_keywords=2)
    assert [(c.name, c.size, set(c.keywords)) for c in unnamed] == [
        ("cluster 1", 2, {"coral", "reef"}), ("cluster 2", 2, {"graph", "kernels"})]


def many_blobs(per: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated 2-D blobs of `per` points each, shuffled, and each one's blob."""
    rng = np.random.default_rng(seed)
    which = rng.permutation(np.repeat(np.arange(3), per))
    centres = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    return centres[which] + rng.normal(0, 0.6, (len(which), 2)), which


def test_sampled_kmeans_assigns_every_row_to_its_nearest_centre():
    points, which = many_blobs()
    fitted = sample_rows(len(points), 150, seed=2)
    ids = sampled_kmeans_clusters(points, fitted, 3)
    assert ids.shape == (1200,) and ids[0] == 0  # numbered by first appearance
    for blob in range(3):  # one cluster per blob, sampled or not
        assert len(set(ids[which == blob].tolist())) == 1
    assert len(set(ids.tolist())) == 3
    np.testing.assert_array_equal(sampled_kmeans_clusters(points, fitted, 3), ids)
    assert len(set(sampled_kmeans_clusters(points, fitted).tolist())) == 12  # default: 2..12
    assert sampled_kmeans_clusters(points[:3], np.arange(3)).tolist() == [0, 0, 0]


def test_sampled_hdbscan_fits_the_sample_and_spreads_to_the_rest():
    points, which = many_blobs()
    points = np.vstack([points, [[60.0, 60.0]]])  # a far outlier: the nearest sampled point
    which = np.append(which, -1)  # decides its cluster
    fitted = sample_rows(len(points), 300, seed=2)
    ids = sampled_hdbscan_clusters(points, fitted, min_cluster_size=100)  # 25 of the sample
    for blob in range(3):
        members = set(ids[which == blob].tolist())
        assert len(members - {NOISE}) == 1 and (ids[which == blob] != NOISE).mean() > 0.9
    assert len(set(ids.tolist()) - {NOISE}) == 3
    # the sampled points keep HDBSCAN's clusters of the sample (numbered in another order)
    pairs = set(zip(ids[fitted].tolist(), hdbscan_clusters(points[fitted], 25).tolist()))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    assert sampled_hdbscan_clusters(points[:3], np.arange(3)).tolist() == [0, 0, 0]


def test_keywords_from_a_sample_of_papers():
    texts = ["coral reef bleaching"] * 50 + ["graph kernels on graphs"] * 50 + ["sepsis shock"]
    ids = np.array([0] * 50 + [1] * 50 + [2])
    rows = sample_rows(101, 20, seed=0)
    keywords = cluster_keywords(texts, ids, n_keywords=3, sample=20)
    assert set(keywords[0]) == {"coral", "reef", "bleaching"}
    assert set(keywords[1]) == {"graph", "graphs", "kernels"}
    assert set(keywords[2]) == (set() if 100 not in rows else {"sepsis", "shock"})
    assert cluster_keywords(texts, ids, n_keywords=2, sample=500) == cluster_keywords(
        texts, ids, n_keywords=2)
    named = unnamed_clusters(ids, texts, n_keywords=2, keyword_sample=20)
    assert [c.size for c in named] == [50, 50, 1]  # sizes count every paper


def test_naming_methods_on_hand_made_vectors():
    labels = [Label("a", "Alpha"), Label("b", "Beta")]
    label_vectors = np.array([[1.0, 0.0], [0.0, 1.0]])
    papers = np.array([[0.9, 0.1], [0.8, 0.3], [0.1, 0.9], [0.7, 0.6], [0.45, 0.5]])
    ids = np.array([0, 0, 1, 1, 1])
    by_centre = name_clusters(ids, papers, label_vectors, labels, "cosine", method="centroid")
    assert [(c.cluster, c.size, c.label) for c in by_centre] == [(0, 2, "a"), (1, 3, "b")]
    assert by_centre[1].share == pytest.approx(2 / 3)  # the fourth paper's own top-1 is a
    by_vote = name_clusters(ids, papers, label_vectors, labels, "dot", method="vote")
    assert [c.label for c in by_vote] == ["a", "b"]
    assert ClusterName(0, 2, "a", "Alpha", 1.0, 1.0, ["x", "y", "z", "w"]).title() == \
        "Alpha (x, y, z)"
    with pytest.raises(ValueError, match="naming method"):
        name_clusters(ids, papers, label_vectors, labels, method="mode")


@pytest.fixture(scope="module")
def demo_vectors(minilm):
    embedder = Embedder(minilm)
    papers = demo.papers()
    path = demo.label_sets()["Fields of study"]
    labels = read_label_set(path.name, path.read_bytes())
    inputs = [p.model_input() for p in papers]
    return {
        "papers": papers, "labels": labels,
        "map": embedder.encode(inputs, "link", "candidate"),
        "paper": embedder.encode(inputs, "classification", "query"),
        "label": embedder.encode(label_texts(labels), "classification", "candidate"),
        "score": minilm.score_function,
    }


def agreeing(named, ids, papers) -> int:
    """Clusters whose name is the most frequent gold field among their papers."""
    fields = np.array([p.labels[0] for p in papers])
    return sum(Counter(fields[ids == c.cluster]).most_common(1)[0][0] == c.label for c in named)


@pytest.mark.parametrize("method", ["centroid", "vote"])
def test_demo_kmeans_clusters_are_named_by_their_field(demo_vectors, method):
    papers = demo_vectors["papers"]
    ids = kmeans_clusters(demo_vectors["map"], 8)
    texts = [f"{p.title} {p.abstract}" for p in papers]
    named = name_clusters(ids, demo_vectors["paper"], demo_vectors["label"],
                          demo_vectors["labels"], demo_vectors["score"], texts, method=method)
    assert len(named) == 8 and sum(c.size for c in named) == len(papers)
    assert agreeing(named, ids, papers) >= 6  # "at least most"; minilm gets 7 of 8
    assert all(c.keywords for c in named)
    by_label = {c.label: c for c in named}
    assert "language" in by_label["nlp"].keywords or "text" in by_label["nlp"].keywords


def test_demo_hdbscan_clusters_are_named_by_their_field(demo_vectors):
    papers = demo_vectors["papers"]
    ids = hdbscan_clusters(demo_vectors["map"], min_cluster_size=3)
    named = name_clusters(ids, demo_vectors["paper"], demo_vectors["label"],
                          demo_vectors["labels"], demo_vectors["score"])
    assert len(named) >= 4
    assert agreeing(named, ids, papers) >= 0.75 * len(named)
