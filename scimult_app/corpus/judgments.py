"""Judged queries for evaluation: query files and relevance judgments (qrels) in the usual formats.

Queries: JSON Lines (`{"id", "text"}`, or BEIR's `{"_id", "text"}`; a `relevant` list of
paper ids is read as judgments of grade 1), TREC topics (`<top> <num> ... <title> ...`, or
`<topic number="..."><query>...`), or plain `qid<TAB>text` lines.

Judgments: BEIR `qrels/*.tsv` (`query-id corpus-id score`, with a header) or TREC qrels
(`qid 0 docid rel`), with or without a header, separated by tabs or spaces. A grade above 0
is relevant; higher grades count more in nDCG.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from scimult_app.corpus.documents import json_object
from scimult_app.corpus.readers import decode
from scimult_app.errors import InputError

QUERY_FORMATS = "JSONL with 'id' (or '_id') and 'text', TREC topics (<top>...</top>), or qid<TAB>text lines"
QRELS_FORMATS = "BEIR 'query-id corpus-id score' or TREC 'qid 0 docid rel', one judgment a line"


@dataclass
class Queries:
    """Query id -> text, in file order, and any judgments the file carried (`relevant` lists)."""
    texts: dict[str, str]
    judgments: dict[str, dict[str, int]] = field(default_factory=dict)
    format: str = ""


@dataclass
class Judgments:
    """Query id -> {document id: grade}, and notes on what was merged (repeated pairs)."""
    grades: dict[str, dict[str, int]]
    format: str = ""
    notes: list[str] = field(default_factory=list)

    def relevant(self, query_id: str) -> set[str]:
        return {doc for doc, grade in self.grades.get(query_id, {}).items() if grade > 0}


def _read(path: str | Path) -> tuple[str, str]:
    path = Path(path)
    try:
        return decode(str(path), path.read_bytes()), str(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give the file itself (for BEIR, "
                         "queries.jsonl or qrels/test.tsv).") from None


# ---- queries ---------------------------------------------------------------------------------

def _jsonl_queries(content: str, where: str) -> Queries:
    texts: dict[str, str] = {}
    judgments: dict[str, dict[str, int]] = {}
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        record = json_object(line, f"{where}, line {number}",
                             "Each line must be one object with 'id' (or '_id') and 'text'.")
        query_id = str(record.get("_id", record.get("id", "")) or "").strip()
        text = str(record.get("text") or record.get("query") or record.get("title") or "").strip()
        if not query_id:
            raise InputError(f"{where}, line {number}: no 'id' (or '_id'). Give every query an id "
                             "that the judgments use.")
        if not text:
            raise InputError(f"{where}, line {number}: query {query_id} has no 'text'.")
        _add_query(texts, query_id, text, where, number)
        relevant = record.get("relevant")
        if isinstance(relevant, list) and relevant:
            judgments[query_id] = {str(doc): 1 for doc in relevant}
    return Queries(texts, judgments, "JSONL")


def _add_query(texts: dict[str, str], query_id: str, text: str, where: str, number: int) -> None:
    if query_id in texts:
        raise InputError(f"{where}, line {number}: the query id {query_id!r} appears twice; "
                         "query ids must be unique.")
    texts[query_id] = " ".join(text.split())


_TOP = re.compile(r"<top>(.*?)</top>", re.S | re.I)
_TOPIC = re.compile(r"<topic\b([^>]*)>(.*?)</topic>", re.S | re.I)
_NUMBER_ATTR = re.compile(r"number\s*=\s*[\"']?([^\"'\s>]+)", re.I)


def _tag(body: str, name: str) -> str:
    """Text after <name> up to the next tag (TREC topics often leave tags unclosed)."""
    match = re.search(rf"<{name}>(.*?)(?=<|\Z)", body, re.S | re.I)
    return " ".join(match.group(1).split()) if match else ""


def _line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _trec_topics(content: str, where: str) -> Queries:
    texts: dict[str, str] = {}
    for match in _TOP.finditer(content):
        body, number = match.group(1), _line_of(content, match.start())
        query_id = re.sub(r"^(number:)\s*", "", _tag(body, "num"), flags=re.I).strip()
        text = re.sub(r"^(topic:)\s*", "", _tag(body, "title"), flags=re.I).strip()
        if not query_id or not text:
            raise InputError(f"{where}, line {number}: a <top> without "
                             f"{'<num>' if not query_id else '<title>'}; each topic needs both.")
        _add_query(texts, query_id, text, where, number)
    for match in _TOPIC.finditer(content):
        attributes, body, number = match.group(1), match.group(2), _line_of(content, match.start())
        found = _NUMBER_ATTR.search(attributes)
        query_id = found.group(1) if found else _tag(body, "num")
        text = _tag(body, "query") or _tag(body, "title")
        if not query_id or not text:
            raise InputError(f"{where}, line {number}: a <topic> without a number or a "
                             "<query>/<title>; each topic needs both.")
        _add_query(texts, query_id, text, where, number)
    return Queries(texts, {}, "TREC topics")


def _tab_queries(content: str, where: str) -> Queries:
    texts: dict[str, str] = {}
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        query_id, tab, text = line.partition("\t")
        if not tab or not query_id.strip() or not text.strip():
            raise InputError(f"{where}, line {number}: expected 'query id<TAB>query text'. "
                             f"Accepted query files: {QUERY_FORMATS}.")
        if number == 1 and query_id.strip().lower() in ("qid", "query-id", "query_id", "id", "_id"):
            continue  # a header
        _add_query(texts, query_id.strip(), text.strip(), where, number)
    return Queries(texts, {}, "tab-separated")


def parse_judged_queries(content: str, where: str) -> Queries:
    """Queries from the text of a query file; the format is recognised from the content."""
    stripped = content.lstrip()
    if not stripped:
        raise InputError(f"{where} is empty. Accepted query files: {QUERY_FORMATS}.")
    if stripped.startswith("{"):
        queries = _jsonl_queries(content, where)
    elif re.search(r"<top>|<topic\b", content, re.I):
        queries = _trec_topics(content, where)
    else:
        queries = _tab_queries(content, where)
    if not queries.texts:
        raise InputError(f"{where} holds no queries. Accepted query files: {QUERY_FORMATS}.")
    return queries


def read_judged_queries(path: str | Path) -> Queries:
    """Queries from a file (UTF-8, or UTF-16 with a byte-order mark)."""
    content, where = _read(path)
    return parse_judged_queries(content, where)


# ---- judgments -------------------------------------------------------------------------------

def _grade(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number == int(number) else None


def parse_qrels(content: str, where: str) -> Judgments:
    """Judgments from the text of a qrels file: 3 columns (BEIR) or 4 (TREC), any whitespace.

    A first line whose grade is not a number is a header. A repeated (query, document) pair
    keeps its last grade and is noted.
    """
    grades: dict[str, dict[str, int]] = {}
    seen_at: dict[tuple[str, str], int] = {}
    notes: list[str] = []
    columns = 0
    header_allowed = True
    for number, line in enumerate(content.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        could_be_header, header_allowed = header_allowed, False
        if len(parts) not in (3, 4):
            raise InputError(f"{where}, line {number}: expected 3 columns (query-id corpus-id "
                             f"score) or 4 (qid 0 docid rel), found {len(parts)}. Accepted "
                             f"judgments: {QRELS_FORMATS}.")
        grade = _grade(parts[-1])
        if grade is None:
            if could_be_header:
                continue  # a header such as "query-id corpus-id score"
            raise InputError(f"{where}, line {number}: the grade {parts[-1]!r} is not a whole "
                             "number; the last column must be the relevance grade (0, 1, 2, ...).")
        if columns and len(parts) != columns:
            raise InputError(f"{where}, line {number}: {len(parts)} columns where earlier lines "
                             f"have {columns}; use one format for the whole file.")
        columns = len(parts)
        query_id, doc_id = parts[0], parts[1] if columns == 3 else parts[2]
        if (query_id, doc_id) in seen_at:
            notes.append(f"line {number} repeats the judgment of {doc_id} for query {query_id} "
                         f"(first on line {seen_at[query_id, doc_id]}); the later grade is used")
        seen_at[query_id, doc_id] = number
        grades.setdefault(query_id, {})[doc_id] = grade
    if not grades:
        raise InputError(f"{where} holds no judgments. Accepted judgments: {QRELS_FORMATS}.")
    kind = "BEIR (query-id corpus-id score)" if columns == 3 else "TREC (qid 0 docid rel)"
    return Judgments(grades, kind, notes)


def read_qrels(path: str | Path) -> Judgments:
    content, where = _read(path)
    return parse_qrels(content, where)


def judgments_from_queries(queries: Queries, where: str) -> Judgments:
    """The judgments a JSONL query file carried in its `relevant` lists."""
    if not queries.judgments:
        raise InputError(f"{where} has no 'relevant' lists, so it needs a judgments file "
                         f"({QRELS_FORMATS}).")
    return Judgments({q: dict(docs) for q, docs in queries.judgments.items()},
                     "the queries file's 'relevant' lists")


def qrels_text(judgments: dict[str, dict[str, int]]) -> str:
    """BEIR-style qrels (with header) for the given judgments."""
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{query}\t{doc}\t{grade}" for query, docs in judgments.items()
              for doc, grade in docs.items()]
    return "\n".join(lines) + "\n"
