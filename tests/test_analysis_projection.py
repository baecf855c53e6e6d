"""Maps: UMAP for real corpora, PCA and fixed points for tiny ones, the disk cache, clusters."""
import numpy as np
import pytest

from scimult_app.analysis.projection import cached_project, clusters, project, projection_path


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
