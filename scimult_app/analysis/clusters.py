"""Clusters of a corpus (KMeans on the vectors, HDBSCAN on the map), named by the
classification expert against a label set, with TF-IDF keywords beside. Big corpora: both
fitted on a sample, every other paper joining the cluster of its nearest centre or point."""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scimult_app.analysis.ranking import scores
from scimult_app.analysis.reduction import sample_rows
from scimult_app.corpus.labels import Label

NOISE = -1  # HDBSCAN's mark for a paper in no cluster
NAMING_METHODS = ("centroid", "vote")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _number_by_first_appearance(raw: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered 0, 1, ... in order of first appearance; NOISE stays NOISE."""
    order = {c: i for i, c in enumerate(c for c in dict.fromkeys(raw.tolist()) if c != NOISE)}
    return np.array([order.get(c, NOISE) for c in raw.tolist()], dtype=int)


def _size(n: int, size: int | None, default, lowest: int) -> int | None:
    """`size` (default(n) when None) clipped to lowest..n; None below 4 points (one cluster)."""
    if n < 4:
        return None
    return max(lowest, min(default(n) if size is None else size, n))


def default_cluster_count(n: int) -> int:
    """round(sqrt(n / 2)) clipped to 2..12."""
    return int(np.clip(round(np.sqrt(n / 2)), 2, 12))


def kmeans_clusters(vectors: np.ndarray, n_clusters: int | None = None, seed: int = 0
                    ) -> np.ndarray:
    """KMeans cluster of each vector (L2-normalised), numbered by first appearance.

    Default count: default_cluster_count(n); a single cluster below 4 vectors.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n_clusters = _size(len(vectors), n_clusters, default_cluster_count, 1)
    if n_clusters is None:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import KMeans
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters
        raw = KMeans(n_clusters=n_clusters, random_state=seed, n_init=10).fit_predict(
            _normalise(vectors))
    return _number_by_first_appearance(raw)


def default_min_cluster_size(n: int) -> int:
    """round(sqrt(n) / 1.5), at least 5: 8 for the 152 demo papers, 67 for 10,000."""
    return max(5, round(np.sqrt(n) / 1.5))


def hdbscan_clusters(points: np.ndarray, min_cluster_size: int | None = None,
                     selection: str = "leaf") -> np.ndarray:
    """HDBSCAN (scikit-learn) cluster of each point, NOISE (-1) for points in none; numbered
    by first appearance. Meant for map coordinates, where density is what the eye sees.

    Default min_cluster_size: default_min_cluster_size(n). `selection` "leaf" keeps the
    finest dense groups (subfields); "eom" prefers fewer, larger ones. Fewer than 4 points
    form one cluster.
    """
    points = np.asarray(points, dtype=np.float64)
    min_cluster_size = _size(len(points), min_cluster_size, default_min_cluster_size, 2)
    if min_cluster_size is None:
        return np.zeros(len(points), dtype=int)
    from sklearn.cluster import HDBSCAN
    raw = HDBSCAN(min_cluster_size=min_cluster_size, cluster_selection_method=selection,
                  copy=True).fit_predict(points)
    return _number_by_first_appearance(raw)


def sampled_kmeans_clusters(features: np.ndarray, fitted: np.ndarray,
                            n_clusters: int | None = None, seed: int = 0) -> np.ndarray:
    """kmeans_clusters for corpora too big for it: KMeans fitted on the rows `fitted` of
    `features` (e.g. principal components; L2-normalised), every row in the cluster of its
    nearest centre; numbered by first appearance. Default count: default_cluster_count(n)."""
    features = np.asarray(features, dtype=np.float32)
    fitted = np.asarray(fitted)
    n_clusters = _size(len(features), n_clusters, default_cluster_count, 1)
    if n_clusters is None or len(fitted) < 4:
        return np.zeros(len(features), dtype=int)
    from sklearn.cluster import KMeans
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters
        model = KMeans(n_clusters=min(n_clusters, len(fitted)), random_state=seed, n_init=10)
        model.fit(_normalise(features[fitted]))
    return _number_by_first_appearance(model.predict(_normalise(features)))


def sampled_hdbscan_clusters(points: np.ndarray, fitted: np.ndarray,
                             min_cluster_size: int | None = None, selection: str = "leaf"
                             ) -> np.ndarray:
    """hdbscan_clusters for maps too big for it: HDBSCAN on the points `fitted` (e.g. the
    papers UMAP was fitted on), every other point in the cluster of its nearest fitted point
    on the map (NOISE when that one is). `min_cluster_size` counts points of the whole map
    (default default_min_cluster_size(n)) and is scaled down to the sample."""
    points = np.asarray(points, dtype=np.float64)
    fitted = np.asarray(fitted)
    size = _size(len(points), min_cluster_size, default_min_cluster_size, 2)
    if size is None or len(fitted) < 4:
        return np.zeros(len(points), dtype=int)
    sampled = hdbscan_clusters(points[fitted], max(2, round(size * len(fitted) / len(points))),
                               selection)
    from sklearn.neighbors import KDTree
    nearest = KDTree(points[fitted]).query(points, k=1, return_distance=False)[:, 0]
    raw = sampled[nearest]
    raw[fitted] = sampled
    return _number_by_first_appearance(raw)


def cluster_centres(coords: np.ndarray, cluster_ids: np.ndarray) -> dict[int, tuple[float, float]]:
    """Where to write each cluster's name: the median of its points on the map."""
    coords, cluster_ids = np.asarray(coords), np.asarray(cluster_ids)
    return {int(c): tuple(float(v) for v in np.median(coords[cluster_ids == c], axis=0))
            for c in sorted(set(cluster_ids.tolist()) - {NOISE})}


def cluster_keywords(texts: Sequence[str], cluster_ids: np.ndarray, n_keywords: int = 5,
                     sample: int | None = None) -> dict[int, list[str]]:
    """Each cluster's words with the highest mean TF-IDF over its papers (English stop words
    out, words of 3+ letters); {} for clusters whose papers share no such word. `sample`:
    read only a seeded random sample of that many papers (big corpora)."""
    cluster_ids = np.asarray(cluster_ids)
    wanted = sorted(set(cluster_ids.tolist()) - {NOISE})
    if not wanted:
        return {}
    if sample is not None and len(cluster_ids) > sample:
        rows = sample_rows(len(cluster_ids), sample, seed=0)
        texts, cluster_ids = [texts[i] for i in rows], cluster_ids[rows]
    from sklearn.feature_extraction.text import TfidfVectorizer
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True,
                                 token_pattern=r"(?u)\b[^\W\d_][\w-]*[^\W_]\b")
    try:
        matrix = vectorizer.fit_transform(list(texts))
    except ValueError:  # nothing but stop words
        return {c: [] for c in wanted}
    vocabulary = vectorizer.get_feature_names_out()
    keywords = {}
    for c in wanted:
        if not (cluster_ids == c).any():  # none of its papers in the sample
            keywords[c] = []
            continue
        mean = np.asarray(matrix[cluster_ids == c].mean(axis=0)).ravel()
        order = np.argsort(-mean, kind="stable")[:n_keywords]
        keywords[c] = [str(vocabulary[i]) for i in order if mean[i] > 0]
    return keywords


@dataclass
class ClusterName:
    cluster: int
    size: int
    label: str  # label id
    name: str  # label name, as shown on the map
    score: float  # the label's score against the cluster's mean vector
    share: float  # fraction of the cluster's papers whose own top-1 label is this one
    keywords: list[str] = field(default_factory=list)

    def title(self) -> str:
        """'Name (keyword, keyword, keyword)'."""
        return f"{self.name} ({', '.join(self.keywords[:3])})" if self.keywords else self.name


def name_clusters(cluster_ids: np.ndarray, paper_vectors: np.ndarray, label_vectors: np.ndarray,
                  labels: Sequence[Label], score_function: str = "dot",
                  texts: Sequence[str] | None = None, method: str = "centroid",
                  n_keywords: int = 5, keyword_sample: int | None = None) -> list[ClusterName]:
    """A label for each cluster, from the classification expert.

    `paper_vectors`: the papers on the classification expert's query side; `label_vectors`:
    the label texts (`name [SEP] definition`) on its candidate side. method "centroid": the
    label scoring highest against the mean of the cluster's paper vectors (L2-normalised first
    under a cosine score); "vote": the label that is most often a paper's top-1 (ties: the
    higher centroid score). With `texts`, TF-IDF keywords go beside each name (read from a
    sample of `keyword_sample` papers when given: cluster_keywords).
    """
    if method not in NAMING_METHODS:
        raise ValueError(f"unknown naming method {method!r}; choose {' or '.join(NAMING_METHODS)}")
    cluster_ids = np.asarray(cluster_ids)
    paper_vectors = np.asarray(paper_vectors, dtype=np.float32)
    if len(labels) == 0:
        raise ValueError("name_clusters needs at least one label")
    if score_function == "cosine":
        paper_vectors = _normalise(paper_vectors)
    top1 = np.argmax(scores(paper_vectors, label_vectors, score_function), axis=1) \
        if len(paper_vectors) else np.zeros(0, dtype=int)
    keywords = (cluster_keywords(texts, cluster_ids, n_keywords, keyword_sample)
                if texts is not None else {})
    named = []
    for c in sorted(set(cluster_ids.tolist()) - {NOISE}):
        members = cluster_ids == c
        centre = paper_vectors[members].mean(axis=0, keepdims=True)
        centre_scores = scores(centre, label_vectors, score_function)[0]
        if method == "centroid":
            best = int(np.argmax(centre_scores))
        else:
            votes = Counter(top1[members].tolist())
            best = max(votes, key=lambda i: (votes[i], centre_scores[i]))
        named.append(ClusterName(
            cluster=int(c), size=int(members.sum()), label=labels[best].label,
            name=labels[best].name, score=float(centre_scores[best]),
            share=float((top1[members] == best).mean()), keywords=keywords.get(c, [])))
    return named


def unnamed_clusters(cluster_ids: np.ndarray, texts: Sequence[str] | None = None,
                     n_keywords: int = 5, keyword_sample: int | None = None
                     ) -> list[ClusterName]:
    """Clusters without a label set: named 'cluster N' (from 1), with TF-IDF keywords (from
    a sample of `keyword_sample` papers when given)."""
    cluster_ids = np.asarray(cluster_ids)
    keywords = (cluster_keywords(texts, cluster_ids, n_keywords, keyword_sample)
                if texts is not None else {})
    return [ClusterName(int(c), int((cluster_ids == c).sum()), "", f"cluster {c + 1}", 0.0, 0.0,
                        keywords.get(c, []))
            for c in sorted(set(cluster_ids.tolist()) - {NOISE})]
