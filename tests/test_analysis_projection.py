"""Maps: UMAP for real corpora, PCA and fixed points for tiny ones, the disk cache, clusters;
big corpora mapped from a sample with the rest placed by their nearest sampled papers."""
import sys

import numpy as np
import pytest

from scimult_app.analysis.placement import (
    nearest_rows,
    neighbour_overlap,
    neighbour_weights,
    place_by_neighbours,
)
from scimult_app.analysis.projection import (
    cached_clusters_keyed,
    cached_project,
    cached_project_keyed,
    clusters,
    project,
    project_sampled,
    projection_path,
    sampled_clusters,
    sampled_note,
)
from scimult_app.analysis.reduction import principal_components, sample_rows


def three_blobs(per: int = 20, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:3] * 4
    return np.vstack([rng.normal(c, 0.3, (per, dim)) for c in centres]).astype(np.float32)


@pytest.fixture(scope="module")
def blobs():
    return three_blobs()


@pytest.fixture(scope="module")
def umap_map(blobs):
    return project(blobs, seed=7)


def test_umap_shape_note_and_determinism(blobs, umap_map):
    coords, note = umap_map
    assert coords.shape == (60, 2) and coords.dtype == np.float32 and note == ""
    again, _ = project(blobs, seed=7)
    np.testing.assert_array_equal(coords, again)
    # the three blobs stay apart: each point's nearest map neighbour is in its own blob
    distance = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    blob = np.arange(60) // 20
    assert (blob[distance.argmin(axis=1)] == blob).mean() > 0.95


def test_umap_neighbours_clipped_for_fifteen_points():
    coords, note = project(three_blobs(per=5), n_neighbors=50)
    assert coords.shape == (15, 2) and note == "" and np.isfinite(coords).all()


def test_small_corpora_fall_back_with_notes():
    vectors = three_blobs(per=3)[:8]
    coords, note = project(vectors)
    assert coords.shape == (8, 2) and coords.dtype == np.float32
    assert "too few for UMAP" in note and "PCA" in note
    np.testing.assert_array_equal(coords, project(vectors)[0])
    # cosine PCA ignores length: a rescaled paper lands where the original is
    scaled = vectors.copy()
    scaled[0] *= 10
    np.testing.assert_allclose(project(scaled)[0], coords, atol=1e-5)
    assert project(vectors, metric="euclidean")[0].shape == (8, 2)
    for n in (1, 2):
        coords, note = project(np.ones((n, 4), dtype=np.float32))
        assert coords.shape == (n, 2) and "too few" in note
    assert project(np.ones((2, 4)))[0].tolist() == [[0.0, 0.0], [1.0, 0.0]]
    assert project(np.zeros((0, 4)))[0].shape == (0, 2)


def test_cache_hit_reads_from_disk(blobs, umap_map):
    calls = []

    def counting(vectors, **options):
        calls.append(options)
        return project(vectors, **options)

    first, note = cached_project(blobs, "test-key", projector=counting, seed=7)
    path = projection_path(blobs, "test-key", {"seed": 7})
    assert path.is_file() and len(calls) == 1 and note == ""
    np.testing.assert_array_equal(first, umap_map[0])
    second, _ = cached_project(blobs, "test-key", projector=counting, seed=7)
    assert len(calls) == 1  # not recomputed
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.load(path), first)
    # another key, other options or other vectors: another file
    assert projection_path(blobs, "other", {"seed": 7}) != path
    assert projection_path(blobs, "test-key", {"seed": 8}) != path
    assert projection_path(blobs[:-1], "test-key", {"seed": 7}) != path


def test_corrupt_cache_file_is_recomputed():
    vectors = three_blobs(per=2)  # 6 papers: PCA, fast
    calls = []

    def counting(vectors, **options):
        calls.append(1)
        return project(vectors, **options)

    expected, note = cached_project(vectors, "corrupt", projector=counting)
    path = projection_path(vectors, "corrupt", {})
    path.write_bytes(b"not a numpy file")
    coords, again = cached_project(vectors, "corrupt", projector=counting)
    assert len(calls) == 2 and again == note and "PCA" in note
    np.testing.assert_array_equal(coords, expected)
    np.testing.assert_array_equal(np.load(path), expected)  # rewritten
    np.save(path, np.zeros((3, 2), dtype=np.float32))  # wrong shape counts as corrupt
    cached_project(vectors, "corrupt", projector=counting)
    assert len(calls) == 3


def test_clusters_find_blobs_and_default_count(blobs):
    labels = clusters(blobs, n_clusters=3)
    assert labels.tolist() == [0] * 20 + [1] * 20 + [2] * 20  # numbered by first appearance
    np.testing.assert_array_equal(clusters(blobs, n_clusters=3), labels)
    assert len(set(clusters(blobs).tolist())) == 5  # round(sqrt(30)) = 5
    assert len(set(clusters(np.tile(blobs, (10, 1))).tolist())) == 12  # clipped to 12
    assert len(set(clusters(blobs[:4]).tolist())) == 2  # round(sqrt(2)) = 1, clipped to 2
    assert clusters(blobs[:3]).tolist() == [0, 0, 0]
    assert clusters(blobs[:0]).shape == (0,)


# ---------------------------------------------------------------- maps of big corpora


def centred(n: int, dim: int = 64, n_centres: int = 6, noise: float = 0.25, seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around well-separated centres, and each one's centre."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_centres, dim))
    which = rng.integers(0, n_centres, n)
    points = centres[which] + noise * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), which


TWINS = 3  # placed papers that are copies (scaled) of sampled ones


@pytest.fixture(scope="module")
def big_map():
    """A 3,000-paper corpus (64-d: reduced to 50 principal components) mapped from 600; the
    first TWINS placed papers are copies of the first sampled ones."""
    vectors, which = centred(3000)
    fitted = sample_rows(3000, 600, seed=3)
    placed = np.setdiff1d(np.arange(3000), fitted)
    vectors[placed[:TWINS]] = 2 * vectors[fitted[:TWINS]]
    which[placed[:TWINS]] = which[fitted[:TWINS]]
    coords, note = project_sampled(vectors, sample=600, seed=3)
    return vectors, which, coords, note


def test_nearest_rows_are_exact_with_and_without_faiss(monkeypatch):
    rng = np.random.default_rng(2)
    queries, candidates = rng.standard_normal((40, 8)), rng.standard_normal((300, 8))
    cosine = 1 - (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        candidates / np.linalg.norm(candidates, axis=1, keepdims=True)).T
    length = np.linalg.norm(queries[:, None] - candidates[None], axis=2)
    found = {}
    for faiss_there in (True, False):
        if not faiss_there:  # the fallback: chunked products
            monkeypatch.setitem(sys.modules, "faiss", None)
        for metric, full in (("cosine", cosine), ("euclidean", length)):
            indices, distances = nearest_rows(queries, candidates, 5, metric)
            np.testing.assert_array_equal(indices, np.argsort(full, axis=1)[:, :5])
            np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :5], atol=1e-4)
            found[faiss_there, metric] = indices
    assert nearest_rows(queries, candidates[:3], 5)[0].shape == (40, 3)  # k cut to candidates
    with pytest.raises(ValueError, match="unknown metric"):
        nearest_rows(queries, candidates, 5, "manhattan")


def test_placement_puts_a_duplicate_on_its_twin_and_weighs_by_distance():
    rng = np.random.default_rng(4)
    sampled = rng.standard_normal((200, 12)).astype(np.float32)
    sampled_coords = rng.standard_normal((200, 2)).astype(np.float32)
    twins = [5, 17, 199]
    queries = np.vstack([sampled[twins] * 3.0, rng.standard_normal((50, 12))])  # cosine: scale
    placed = place_by_neighbours(queries, sampled, sampled_coords, k=10, chunk=16)
    np.testing.assert_array_equal(placed[:3], sampled_coords[twins])
    # the others sit inside the box of their neighbours, nearer the nearer ones
    indices, distances = nearest_rows(queries[3:], sampled, 10)
    around = sampled_coords[indices]
    assert (placed[3:] >= around.min(axis=1) - 1e-5).all()
    assert (placed[3:] <= around.max(axis=1) + 1e-5).all()
    weights = neighbour_weights(np.array([[0.1, 0.2, 0.4], [0.0, 0.3, 0.3]]))
    np.testing.assert_allclose(weights, [[4 / 7, 2 / 7, 1 / 7], [1, 0, 0]])


def test_sampled_map_keeps_centres_apart_and_twins_together(big_map):
    vectors, which, coords, note = big_map
    assert coords.shape == (3000, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert "random sample of 600 of the 3,000 papers" in note and "first 50 principal" in note
    assert "10 nearest sampled papers" in note and "Every paper is on the map." in note
    fitted = sample_rows(3000, 600, seed=3)
    placed = np.setdiff1d(np.arange(3000), fitted)
    # neighbourhood preservation: of each paper's 10 nearest on the map, the share from its
    # own centre, for sampled and placed papers alike
    distance = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argsort(distance, axis=1)[:, :10]
    own = (which[nearest] == which[:, None]).mean(axis=1)
    assert own[fitted].mean() > 0.95 and own[placed].mean() > 0.95
    # each placed paper is nearer the middle of its own centre's papers than any other's
    middles = np.array([np.median(coords[which == c], axis=0) for c in range(6)])
    to_middles = np.linalg.norm(coords[placed, None] - middles[None], axis=2)
    assert (to_middles.argmin(axis=1) == which[placed]).mean() > 0.95
    # a copy of a sampled paper lands exactly on it; other placed papers do not
    np.testing.assert_array_equal(coords[placed[:TWINS]], coords[fitted[:TWINS]])
    assert len(np.unique(coords[placed], axis=0)) == len(placed)


def test_sampled_map_is_seeded(big_map):
    vectors, _, coords, _ = big_map
    again, _ = project_sampled(vectors, sample=600, seed=3)
    np.testing.assert_array_equal(coords, again)
    other, _ = project_sampled(vectors, sample=600, seed=4)
    assert not np.allclose(coords, other)


def test_neighbour_overlap_of_a_map():
    rng = np.random.default_rng(5)
    points = rng.standard_normal((400, 2))
    assert neighbour_overlap(points, points, 10, "euclidean") == 1.0
    shuffled = points[rng.permutation(400)]
    assert neighbour_overlap(points, shuffled, 10, "euclidean") < 0.1
    assert neighbour_overlap(points[:1], points[:1]) == 1.0


def test_small_corpora_stay_as_before_and_note_without_reduction():
    vectors, _ = centred(80, dim=16)
    coords, note = project_sampled(vectors, sample=100, seed=7)
    np.testing.assert_array_equal(coords, project(vectors, seed=7)[0])
    assert note == ""
    note = sampled_note(1000, 100, width=16)
    assert "principal" not in note and "other 900" in note
    # a sample smaller than PCA_DIMS: as many components as sampled papers
    wide, _ = centred(100, dim=64)
    assert principal_components(wide, np.arange(20)).shape == (100, 20)
    assert "first 20 principal components" in sampled_note(100, 20, width=64)
    with pytest.raises(ValueError, match="unknown metric"):
        project_sampled(vectors, sample=40, metric="manhattan")


def test_map_and_clusters_cache_round_trip(big_map):
    vectors, which, coords, note = big_map
    calls = []

    def counting(vectors, **options):
        calls.append(options)
        return project_sampled(vectors, **options)

    first = cached_project_keyed(vectors, "round-trip", counting, sample=600, seed=3)
    second = cached_project_keyed(vectors, "round-trip", counting, sample=600, seed=3)
    assert len(calls) == 1 and not first[2] and second[2]
    np.testing.assert_array_equal(first[0], coords)
    np.testing.assert_array_equal(second[0], coords)
    assert first[1] == second[1] == note
    for method, size in (("kmeans", 6), ("hdbscan", None)):
        ids, cached = cached_clusters_keyed(vectors, coords, "round-trip", method, size,
                                            sample=600, seed=3)
        again, cached_again = cached_clusters_keyed(vectors, coords, "round-trip", method, size,
                                                    sample=600, seed=3)
        assert not cached and cached_again and ids.shape == (3000,)
        np.testing.assert_array_equal(ids, again)
        # no cluster mixes centres (HDBSCAN's leaves may split one, or leave papers out)
        for cluster in set(ids.tolist()) - {-1}:
            assert len(set(which[ids == cluster].tolist())) == 1
        assert (ids != -1).mean() > 0.5
        if method == "kmeans":  # k = 6: one cluster per centre
            assert len(set(ids.tolist())) == 6
    with pytest.raises(ValueError, match="unknown cluster method"):
        sampled_clusters(vectors, coords, "spectral")
