"""Training pairs from a corpus: labels, citations and queries; and a fixed held-out split."""
from __future__ import annotations

import hashlib

from .documents import Document, label_input
from .errors import InputError
from .training import Pair


def _unknown(ids: list[str], known: dict, what: str, where: str) -> None:
    missing = [i for i in ids if i not in known]
    if missing:
        raise InputError(f"{where}: {len(missing)} {what} id(s) not in the corpus, first "
                         f"{missing[0]!r}. Fix the ids or add those papers to the corpus.")


def classification_pairs(papers: list[Document], labels: list) -> list[Pair]:
    """paper -> `name [SEP] definition` of each of its labels found in the label set."""
    by_id = {label.label: label for label in labels}
    return [Pair("classification", paper.model_input(),
                 label_input(by_id[name].name, by_id[name].definition),
                 query_id=paper.id, positive_id=name)
            for paper in papers for name in paper.labels if name in by_id]


def link_pairs(papers: list[Document], strict: bool = True) -> list[Pair]:
    """citing paper -> cited paper, from each paper's `cites` list."""
    by_id = {paper.id: paper for paper in papers}
    pairs = []
    for paper in papers:
        cited = [str(i) for i in paper.extra.get("cites") or []]
        if strict:
            _unknown(cited, by_id, "cited", f"paper {paper.id}")
        pairs += [Pair("link", paper.model_input(), by_id[i].model_input(),
                       query_id=paper.id, positive_id=i) for i in cited if i in by_id]
    return pairs


def search_pairs(queries: list[dict], papers: list[Document]) -> list[Pair]:
    """query text -> each relevant paper."""
    by_id = {paper.id: paper for paper in papers}
    pairs = []
    for number, query in enumerate(queries, 1):
        text = str(query.get("text") or "").strip()
        if not text:
            raise InputError(f"query {query.get('id', number)} has no text.")
        relevant = [str(i) for i in query.get("relevant") or []]
        _unknown(relevant, by_id, "relevant", f"query {query.get('id', number)}")
        pairs += [Pair("search", text, by_id[i].model_input(),
                       query_id=str(query.get("id", number)), positive_id=i) for i in relevant]
    return pairs


def title_pairs(papers: list[Document]) -> list[Pair]:
    """Extra search pairs: a paper's title as the query, its abstract as the target."""
    return [Pair("search", paper.title, paper.abstract, query_id=paper.id, positive_id=paper.id)
            for paper in papers if paper.title and paper.abstract]


def is_held_out(key: str, fraction: float, seed: int = 0) -> bool:
    """A fixed split: the same key is always on the same side for a given seed."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def split(pairs: list[Pair], fraction: float = 0.2, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) by query id, so a held-out query has none of its pairs in training."""
    train, held = [], []
    for pair in pairs:
        (held if is_held_out(pair.query_id, fraction, seed) else train).append(pair)
    return train, held
