"""Experts, moving: how far each paper travels between two experts' aligned maps, and the
in-between frames of the animation."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def map_spread(coords: np.ndarray) -> float:
    """Root mean square distance of the points from their centre (0 for fewer than 2)."""
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) < 2:
        return 0.0
    return float(np.sqrt(((coords - coords.mean(axis=0)) ** 2).sum(axis=1).mean()))


def displacement(start: np.ndarray, end: np.ndarray, relative: bool = True) -> np.ndarray:
    """Distance each point travels from `start` to `end` (aligned maps, same rows).

    relative: divided by the start map's spread (map_spread), so 1.0 is a move as long as the
    map's typical radius, comparable across corpora and projections.
    """
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if start.shape != end.shape or (start.ndim != 2 and start.size):
        raise ValueError(f"cannot compare maps of shapes {start.shape} and {end.shape}")
    distances = np.linalg.norm(end - start, axis=1) if start.size else np.zeros(len(start))
    spread = map_spread(start)
    return distances / spread if relative and spread > 0 else distances


def farthest_moved(start: np.ndarray, end: np.ndarray, ids: Sequence[str], n: int = 10
                   ) -> pd.DataFrame:
    """The n papers that travel farthest: columns id, distance (relative), rank from 1;
    ties broken by input order."""
    distances = displacement(start, end)
    order = np.argsort(-distances, kind="stable")[:max(0, n)]
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1),
                         "id": [ids[i] for i in order],
                         "distance": distances[order]})


def tween(start: np.ndarray, end: np.ndarray, steps: int = 12) -> list[np.ndarray]:
    """`steps` + 1 maps from `start` to `end` (both included), eased in and out so points
    accelerate and settle."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if start.shape != end.shape:
        raise ValueError(f"cannot move between maps of shapes {start.shape} and {end.shape}")
    fractions = (1 - np.cos(np.linspace(0.0, np.pi, steps + 1))) / 2  # smooth 0 -> 1
    return [start + fraction * (end - start) for fraction in fractions]


def animation_rows(distances: np.ndarray, limit: int = 3000) -> np.ndarray:
    """Which papers to animate: all up to `limit`; beyond it the limit // 2 farthest movers and
    an even sample of the rest, in input order (a browser animates a few thousand points
    smoothly, not a hundred thousand)."""
    distances = np.asarray(distances)
    n = len(distances)
    if n <= limit:
        return np.arange(n)
    farthest = np.argsort(-distances, kind="stable")[:limit // 2]
    rest = np.setdiff1d(np.arange(n), farthest)
    sample = rest[np.linspace(0, len(rest) - 1, limit - len(farthest)).round().astype(int)]
    return np.unique(np.concatenate([farthest, sample]))
