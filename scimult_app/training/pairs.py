"""Training pairs from a corpus: labels, citations and queries; and a fixed held-out split."""
from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, replace

from scimult_app.corpus.documents import Document, label_input
from scimult_app.errors import InputError


@dataclass(frozen=True)
class Pair:
    task: str  # an expert name: search, link or classification
    query: str
    positive: str
    negatives: tuple[str, ...] = ()
    query_id: str = ""
    positive_id: str = ""


MAX_LABEL_NEGATIVES = 63  # label texts a classification pair is contrasted with, at most


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


def _position(key: str, seed: int) -> float:
    """A fixed number in [0, 1) for each key and seed."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def is_held_out(key: str, fraction: float, seed: int = 0) -> bool:
    """A fixed split: the same key is always on the same side for a given seed."""
    return _position(key, seed) < fraction


def fold_of(key: str, folds: int, seed: int = 0) -> int:
    """A fixed fold in range(folds) for each key, for cross-validation."""
    return int(_position(key, seed) * folds)


def split(pairs: list[Pair], fraction: float = 0.2, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) by query id, so a held-out query has none of its pairs in training."""
    train, held = [], []
    for pair in pairs:
        (held if is_held_out(pair.query_id, fraction, seed) else train).append(pair)
    return train, held


def _citable(paper: Document, citing: Document) -> bool:
    """Published no later than `citing`, and not citing it."""
    later = paper.year is not None and citing.year is not None and paper.year > citing.year
    return not later and citing.id not in [str(i) for i in paper.extra.get("cites") or []]


def _paper_negatives(pair: Pair, by_id: dict[str, Document], members: dict[str, list[Document]],
                     positives: set[str], count: int, rng: random.Random) -> tuple[str, ...]:
    """Papers sharing the positive's most specific label that are not positives of the query."""
    positive = by_id.get(pair.positive_id)
    if positive is None or pair.query_id == pair.positive_id:
        return ()
    query = by_id.get(pair.query_id)
    for label in reversed(positive.labels):
        pool = [p for p in members[label] if p.id not in positives and p.id != pair.query_id
                and (query is None or _citable(p, query))]
        if pool:
            return tuple(p.model_input() for p in rng.sample(pool, min(count, len(pool))))
    return ()


def _label_negatives(label_text: dict[str, str], positives: set[str],
                     rng: random.Random) -> tuple[str, ...]:
    """Every other label of the set; a random MAX_LABEL_NEGATIVES of them in a larger set."""
    others = [text for name, text in label_text.items() if name not in positives]
    if len(others) > MAX_LABEL_NEGATIVES:
        others = rng.sample(others, MAX_LABEL_NEGATIVES)
    return tuple(others)


def with_hard_negatives(pairs: dict[str, list[Pair]], papers: list[Document], labels: list,
                        per_pair: int = 1, seed: int = 0,
                        tasks: tuple[str, ...] | None = None) -> dict[str, list[Pair]]:
    """Add hard negatives: for classification every other label of the set; for link and
    search `per_pair` papers sharing the positive's most specific label that the query does
    not cite or ask for. A batch's candidates then are its positives and negatives together.
    `tasks` limits which tasks get them (default: all)."""
    by_id = {paper.id: paper for paper in papers}
    members: dict[str, list[Document]] = defaultdict(list)
    for paper in papers:
        for label in paper.labels:
            members[label].append(paper)
    label_text = {label.label: label_input(label.name, label.definition) for label in labels}
    out: dict[str, list[Pair]] = {}
    for task, task_pairs in pairs.items():
        if tasks is not None and task not in tasks:
            out[task] = task_pairs
            continue
        positives: dict[str, set[str]] = {}
        for pair in task_pairs:
            positives.setdefault(pair.query_id, set()).add(pair.positive_id)
        rng = random.Random(f"{seed}:{task}")  # one stream a task
        if task == "classification":
            out[task] = [replace(pair, negatives=_label_negatives(
                label_text, positives[pair.query_id], rng)) for pair in task_pairs]
        else:
            out[task] = [replace(pair, negatives=_paper_negatives(
                pair, by_id, members, positives[pair.query_id], per_pair, rng))
                for pair in task_pairs]
    return out
