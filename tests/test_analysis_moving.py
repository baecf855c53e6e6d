"""Experts, moving: displacement between aligned maps, the farthest movers, eased frames."""
import numpy as np
import pytest

from scimult_app.analysis.compare import align
from scimult_app.analysis.moving import (
    animation_rows,
    displacement,
    farthest_moved,
    map_spread,
    tween,
)


def test_displacement_and_spread():
    start = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    end = start.copy()
    end[2] = [3.0, 5.0]  # moves by 5
    assert map_spread(start) == pytest.approx(1.0)
    assert displacement(start, end, relative=False).tolist() == [0, 0, 5, 0]
    assert displacement(start * 2, end * 2).tolist() == pytest.approx([0, 0, 5, 0])  # relative
    assert displacement(start[:0], end[:0]).shape == (0,)
    with pytest.raises(ValueError, match="shapes"):
        displacement(start, end[:3])


def test_farthest_moved_ranks_by_distance_ties_in_order():
    start = np.zeros((4, 2))
    start[:, 0] = [0, 1, 2, 3]
    end = start + np.array([[0, 1], [0, 3], [0, 0], [0, 3]])
    table = farthest_moved(start, end, ["a", "b", "c", "d"], n=3)
    assert table["id"].tolist() == ["b", "d", "a"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["distance"].iloc[0] == pytest.approx(3 / map_spread(start))


def test_aligned_maps_only_move_what_really_moved():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(30, 2))
    rotated = reference @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3 + 7  # same map, turned
    rotated[5] += [40.0, 0.0]  # one paper really moves
    aligned = align(reference, rotated)
    table = farthest_moved(reference, aligned, [str(i) for i in range(30)], n=1)
    assert table["id"].tolist() == ["5"]


def test_tween_eases_from_start_to_end():
    start, end = np.zeros((2, 2)), np.ones((2, 2)) * 4
    frames = tween(start, end, steps=4)
    assert len(frames) == 5
    np.testing.assert_allclose(frames[0], start)
    np.testing.assert_allclose(frames[-1], end)
    np.testing.assert_allclose(frames[2], end / 2)
    steps = [frames[i + 1][0, 0] - frames[i][0, 0] for i in range(4)]
    assert steps[0] < steps[1] and steps[3] < steps[2]  # slow at both ends
    with pytest.raises(ValueError):
        tween(start, end, steps=0)


def test_animation_rows_keep_the_farthest_movers():
    assert animation_rows(np.ones(5), limit=10).tolist() == [0, 1, 2, 3, 4]
    distances = np.zeros(100)
    distances[[7, 42, 93]] = [5.0, 9.0, 7.0]
    rows = animation_rows(distances, limit=10)
    assert len(rows) == 10 and {7, 42, 93} <= set(rows.tolist())
    assert rows.tolist() == sorted(set(rows.tolist()))  # input order, no repeats
