"""BM25 over a corpus (bm25s, English stop words and a Snowball stemmer): the lexical baseline.

A document matches a query only through shared (stemmed) words: documents that share none
score 0 and are not retrieved, so a BM25 ranking can be shorter than the corpus, or empty.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scimult_app.analysis.fusion import reciprocal_rank_fusion
from scimult_app.errors import ScimultError


def _modules():
    try:
        import bm25s
        import Stemmer
    except ImportError:
        raise ScimultError("BM25 needs the packages bm25s and PyStemmer: "
                           "pip install -r requirements.txt") from None
    return bm25s, Stemmer


class BM25Index:
    """A BM25 index of texts (Lucene's variant, k1=1.5, b=0.75); rows are the texts' order."""

    def __init__(self, texts: Sequence[str], language: str = "english", k1: float = 1.5,
                 b: float = 0.75):
        bm25s, Stemmer = _modules()
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer(language)
        self.size = len(texts)
        self._retriever = bm25s.BM25(k1=k1, b=b)
        if self.size:
            self._retriever.index(self.tokenize(texts), show_progress=False)

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Lower-cased words of two or more characters, English stop words out, stemmed."""
        return self._bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stemmer,
                                    return_ids=False, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """(n,) float32 BM25 score of every text for one query (0 where no word is shared)."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        vocabulary = self._retriever.vocab_dict
        words = [w for w in self.tokenize([query])[0] if w and w in vocabulary]
        if not words:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(words), dtype=np.float32)

    def rank(self, query: str, k: int, allowed: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of at most k texts that share a word with the query, best first
        (ties: lower index); `allowed` (bool mask) restricts the candidates."""
        values = self.scores(query)
        matching = values > 0
        if allowed is not None:
            matching &= np.asarray(allowed, dtype=bool)
        candidates = np.flatnonzero(matching)
        order = candidates[np.argsort(-values[candidates], kind="stable")][:max(0, k)]
        return order, values[order]

    def rank_many(self, queries: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.rank(query, k) for query in queries]


def beside_dense(index: BM25Index, query: str, dense_ids: Sequence[str], doc_ids: Sequence[str],
                 k: int, rrf_k: int = 60, allowed: np.ndarray | None = None
                 ) -> tuple[list[str], list[str]]:
    """BM25's top k ids for the query and the fusion (RRF) of BM25 with the dense ranking.

    `doc_ids` are the indexed texts' ids, in index order; `allowed` restricts BM25 as the dense
    ranking was restricted (filters). BM25 ranks as deep as the dense ranking for the fusion.
    """
    order, _ = index.rank(query, max(k, len(dense_ids)), allowed)
    lexical = [doc_ids[i] for i in order]
    fused = [doc for doc, _ in reciprocal_rank_fusion([lexical, list(dense_ids)], rrf_k, k)]
    return lexical[:k], fused
