"""A paper's nearest papers, a small graph around it, and a deterministic layout for drawing."""
from __future__ import annotations

import numpy as np

from scimult_app.analysis.ranking import top_k_chunked


def neighbours(index: int, query_vectors: np.ndarray, candidate_vectors: np.ndarray, k: int,
               score_function: str = "dot") -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best candidates for paper `index` (query side), not itself."""
    query = np.asarray(query_vectors[index:index + 1], dtype=np.float32)
    indices, values = top_k_chunked(query, candidate_vectors, k, score_function, exclude=[index])
    return indices[0], values[0]


def neighbour_graph(seed_index: int, query_vectors: np.ndarray, candidate_vectors: np.ndarray,
                    k: int, score_function: str = "dot", depth: int = 1, per_node: int = 2
                    ) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Nodes (seed first) and edges (source, target, score) around one paper.

    Depth 1: the seed linked to its k neighbours. Depth 2 also links each neighbour to its
    `per_node` best neighbours among the other neighbours (each pair drawn once).
    """
    if depth not in (1, 2):
        raise ValueError(f"depth must be 1 or 2, got {depth}")
    indices, values = neighbours(seed_index, query_vectors, candidate_vectors, k, score_function)
    nodes = [int(seed_index)] + [int(i) for i in indices]
    edges = [(int(seed_index), int(i), float(v)) for i, v in zip(indices, values)]
    if depth == 2 and len(nodes) > 2:
        others = nodes[1:]
        best, best_values = top_k_chunked(np.asarray(query_vectors)[others],
                                          np.asarray(candidate_vectors)[others], per_node,
                                          score_function, exclude=list(range(len(others))))
        seen = set()
        for row, source in enumerate(others):
            for column, value in zip(best[row], best_values[row]):
                target = others[column]
                pair = frozenset((source, target))
                if pair not in seen:
                    seen.add(pair)
                    edges.append((source, target, float(value)))
    return nodes, edges


def graph_layout(nodes: list[int], edges: list[tuple[int, int, float]], seed: int = 0,
                 iterations: int = 200) -> dict[int, tuple[float, float]]:
    """Positions in [-1, 1]^2 from a small spring layout (Fruchterman-Reingold), deterministic.

    Starts from a circle (the first node in the centre) with a little seeded jitter.
    """
    n = len(nodes)
    if n == 0:
        return {}
    if n == 1:
        return {nodes[0]: (0.0, 0.0)}
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n - 1) / (n - 1)
    position = np.vstack([[0.0, 0.0], np.column_stack([np.cos(angles), np.sin(angles)])])
    position += rng.normal(scale=0.01, size=position.shape)
    where = {node: i for i, node in enumerate(nodes)}
    links = np.array([(where[a], where[b]) for a, b, _ in edges if a in where and b in where],
                     dtype=int).reshape(-1, 2)
    ideal = 1.0 / np.sqrt(n)
    temperature = 0.1
    for step in range(iterations):
        delta = position[:, None, :] - position[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=2), 1e-6)
        force = (delta / distance[..., None] * (ideal ** 2 / distance)[..., None]).sum(axis=1)
        if len(links):
            pull = position[links[:, 0]] - position[links[:, 1]]
            length = np.maximum(np.linalg.norm(pull, axis=1, keepdims=True), 1e-6)
            spring = pull / length * (length ** 2 / ideal)
            np.add.at(force, links[:, 0], -spring)
            np.add.at(force, links[:, 1], spring)
        size = np.maximum(np.linalg.norm(force, axis=1, keepdims=True), 1e-9)
        position += force / size * np.minimum(size, temperature)
        temperature = 0.1 * (1 - (step + 1) / iterations) + 1e-3
    position -= position.mean(axis=0)
    position /= max(np.abs(position).max(), 1e-9)
    return {node: (float(x), float(y)) for node, (x, y) in zip(nodes, position)}
