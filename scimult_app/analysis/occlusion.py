"""Why this match: the score change when one sentence of the paper (or one word of the query)
is removed, under one expert; every occluded variant is scored in one embed call."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from scimult_app.analysis.ranking import scores
from scimult_app.corpus.documents import Document

SHORT_QUERY_WORDS = 32  # queries up to this many words are explained word by word

# a sentence ends at . ! or ? (closing quotes and brackets allowed) followed by white space
# and an upper-case letter, a digit or an opening quote/bracket
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"e.g", "i.e", "et al", "al", "fig", "figs", "eq", "eqs", "ref", "refs", "vs",
                  "cf", "approx", "no", "dr", "mr", "mrs", "ms", "prof", "st", "sp", "spp",
                  "etc", "resp", "ca", "viz", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
                  "sep", "sept", "oct", "nov", "dec"}


@dataclass
class Unit:
    """One occluded piece of text: where it is, what it says, how the score moved without it."""
    part: str  # "title", "abstract", "text" or "query"
    start: int  # character offsets in that part
    end: int
    text: str
    delta: float  # full score - score without this unit: > 0 the unit supports the match


@dataclass
class Explanation:
    """The occlusion of one side of a (query, paper) pair under one expert."""
    expert: str
    side: str  # which side was occluded: "query" or "candidate"
    score: float  # the unoccluded score
    units: list[Unit]
    parts: dict[str, str]  # part name -> its full text (the units' offsets index into these)

    def top(self, n: int = 3) -> list[Unit]:
        """The n units whose removal lowers the score most."""
        return sorted(self.units, key=lambda unit: -unit.delta)[:n]

    def weights(self) -> list[float]:
        """Each unit's delta divided by the largest |delta| (-1..1; all 0 when nothing moves)."""
        largest = max((abs(unit.delta) for unit in self.units), default=0.0)
        return [unit.delta / largest if largest > 0 else 0.0 for unit in self.units]


def _is_abbreviation(text: str, stop: int) -> bool:
    """Whether the full stop at `stop` closes an abbreviation ('e.g.', 'et al.', 'Fig.') or an
    initial ('J. Smith') rather than a sentence."""
    if text[stop] != ".":
        return False
    before = text[:stop]
    word = re.search(r"([A-Za-z]+(?:\.[A-Za-z]+)*)$", before)
    if not word:
        return False
    token = word.group(1).lower()
    if token in _ABBREVIATIONS or before.lower().endswith("et al"):
        return True
    return len(token) == 1 and token.isalpha()  # a single initial


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, white space trimmed."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if _is_abbreviation(text, match.start()):
            continue
        end = match.end()
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        piece = text[begin:end]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            trimmed.append((begin + left, begin + right))
    return trimmed


def split_words(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the white-space separated words of `text`."""
    return [(match.start(), match.end()) for match in re.finditer(r"\S+", text)]


def without(text: str, start: int, end: int) -> str:
    """`text` with [start, end) removed and the white space around the gap made one space."""
    return f"{text[:start].rstrip()} {text[end:].lstrip()}".strip()


def query_units(query: str, max_words: int = SHORT_QUERY_WORDS) -> list[tuple[int, int]]:
    """Words of a short query, sentences of a longer one."""
    words = split_words(query)
    return words if len(words) <= max_words else split_sentences(query)


def paper_units(doc: Document) -> list[tuple[str, int, int]]:
    """(part, start, end) of what can be occluded in a paper: the title as one unit, then each
    sentence of the abstract (or of the plain text, which the model reads instead)."""
    if doc.text:
        return [("text", start, end) for start, end in split_sentences(doc.text)]
    units = [("title", 0, len(doc.title))] if doc.title.strip() else []
    return units + [("abstract", start, end) for start, end in split_sentences(doc.abstract)]


def _occluded_paper(doc: Document, part: str, start: int, end: int) -> str:
    return replace(doc, **{part: without(getattr(doc, part), start, end)}).model_input()


def _pair_scores(query_vectors: np.ndarray, candidate_vectors: np.ndarray,
                 score_function: str) -> np.ndarray:
    """Row i of one side against row i of the other (one side may have a single row)."""
    if len(query_vectors) == 1 or len(candidate_vectors) == 1:
        return scores(query_vectors, candidate_vectors, score_function).reshape(-1)
    return np.array([scores(q[None], c[None], score_function)[0, 0]
                     for q, c in zip(query_vectors, candidate_vectors)], dtype=np.float32)


def explain_paper(embedder, query: str, doc: Document, expert: str,
                  query_side: str = "query", candidate_side: str = "candidate") -> Explanation:
    """How the score of `doc` for `query` moves when each of the paper's units is removed.

    The query is embedded once; the full paper and every occluded variant go through one
    embed call; scores use the model's own score function.
    """
    units = paper_units(doc)
    texts = [doc.model_input()] + [_occluded_paper(doc, *unit) for unit in units]
    query_vector = embedder.encode([query], expert, query_side)
    candidate_vectors = embedder.encode(texts, expert, candidate_side)
    values = _pair_scores(query_vector, candidate_vectors, embedder.loaded.score_function)
    full = float(values[0])
    parts = {"title": doc.title, "abstract": doc.abstract, "text": doc.text}
    return Explanation(expert, "candidate", full, [
        Unit(part, start, end, parts[part][start:end], full - float(value))
        for (part, start, end), value in zip(units, values[1:])], parts)


def explain_query(embedder, query: str, candidate: str, expert: str,
                  query_side: str = "query", candidate_side: str = "candidate",
                  max_words: int = SHORT_QUERY_WORDS) -> Explanation:
    """How the score of `candidate` (its model input) moves when each word of a short query
    (each sentence of a longer one) is removed; the variants go through one embed call."""
    spans = query_units(query, max_words)
    texts = [query] + [without(query, start, end) for start, end in spans]
    query_vectors = embedder.encode(texts, expert, query_side)
    candidate_vector = embedder.encode([candidate], expert, candidate_side)
    values = _pair_scores(query_vectors, candidate_vector, embedder.loaded.score_function)
    full = float(values[0])
    return Explanation(expert, "query", full, [
        Unit("query", start, end, query[start:end], full - float(value))
        for (start, end), value in zip(spans, values[1:])], {"query": query})
