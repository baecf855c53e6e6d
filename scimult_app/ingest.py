"""Uploads and pasted text into Documents: CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF, plain text.

`parse_upload` gives a raw table (columns as found), `guess_mapping` proposes which column
plays which role, `to_documents` applies it. Every error names the file and the fix.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd

from .documents import Document, document_from_record
from .errors import InputError

MAX_BYTES = 50_000_000
SUPPORTED = ("csv", "tsv", "jsonl", "ndjson", "json", "bib", "ris", "pdf", "txt", "md")
ROLE_SYNONYMS = {
    "id": ("id", "doc_id", "paper_id", "pmid", "key", "uid", "identifier"),
    "title": ("title", "ti", "name", "paper_title"),
    "abstract": ("abstract", "summary", "description", "ab"),
    "text": ("text", "body", "content", "document", "patient"),
    "labels": ("labels", "label", "keywords", "categories", "category", "field", "topics"),
    "year": ("year", "publication_year", "py", "date", "published"),
}


def decode(filename: str, data: bytes) -> str:
    """UTF-8 (BOM allowed) or UTF-16 with a BOM; anything else is a clear error."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{filename}: not UTF-8 text (bad byte at position {error.start}). "
                         "Save the file as UTF-8 and upload it again.") from None


def _table(rows: list[dict], filename: str) -> pd.DataFrame:
    if not rows:
        raise InputError(f"{filename}: no documents found in the file.")
    return pd.DataFrame(rows).fillna("")


def _jsonl(text: str, filename: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{filename}, line {number}: not valid JSON ({error.msg}); each "
                             "line must be one JSON object.") from None
        if not isinstance(record, dict):
            raise InputError(f"{filename}, line {number}: expected a JSON object.")
        rows.append(record)
    return rows


def _json(text: str, filename: str) -> list[dict]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return _jsonl(text, filename)  # many .json files are really JSON Lines
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), [value])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InputError(f"{filename}: expected a list of objects (one per paper).")
    return value


def _csv(text: str, filename: str, delimiter: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise InputError(f"{filename}: no header row; the first line must name the columns.")
    return [{(key or "").strip(): (value or "").strip() for key, value in row.items()
             if key is not None} for row in reader]


def _bibtex_value(text: str, start: int) -> tuple[str, int]:
    """A braced, quoted or bare value starting at `start`; returns it and the next position."""
    if text[start] == "{":
        depth, position = 0, start
        while position < len(text):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                return text[start + 1:position], position + 1
            position += 1
        raise ValueError("unbalanced braces")
    if text[start] == '"':
        end = start + 1
        while end < len(text) and not (text[end] == '"' and text[end - 1] != "\\"):
            end += 1
        return text[start + 1:end], end + 1
    match = re.match(r"[^,}\s]+", text[start:])
    return (match.group(0) if match else ""), start + (match.end() if match else 0)


def _clean_latex(value: str) -> str:
    value = re.sub(r"\\[a-zA-Z]+\s*", "", value).replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", value).strip()


def _bibtex(text: str, filename: str) -> list[dict]:
    rows = []
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]*)\s*,", text):
        kind = match.group(1).lower()
        if kind in ("comment", "string", "preamble"):
            continue
        record, position = {"id": match.group(2)}, match.end()
        try:
            while position < len(text):
                field = re.match(r"\s*(\w[\w-]*)\s*=\s*", text[position:])
                if not field:
                    break
                value, position = _bibtex_value(text, position + field.end())
                record[field.group(1).lower()] = _clean_latex(value)
                separator = re.match(r"\s*,?", text[position:])
                position += separator.end()
        except (ValueError, IndexError):
            raise InputError(f"{filename}: the entry {match.group(2)!r} is malformed "
                             "(unbalanced braces?). Fix it or export the file again.") from None
        if "keywords" in record:
            record["labels"] = record.pop("keywords")
        rows.append(record)
    return rows


RIS_TAGS = {"TI": "title", "T1": "title", "AB": "abstract", "N2": "abstract", "PY": "year",
            "Y1": "year", "KW": "labels", "ID": "id", "DO": "doi"}


def _ris(text: str, filename: str) -> list[dict]:
    rows, record = [], {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if not match:
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "ER":
            rows.append(record)
            record = {}
        elif tag in RIS_TAGS:
            key = RIS_TAGS[tag]
            if key == "labels":
                record["labels"] = f"{record['labels']}; {value}" if record.get("labels") else value
            else:
                record.setdefault(key, value)
    if record:
        rows.append(record)
    return rows


def _pdf(data: bytes, filename: str) -> list[dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages[:3])
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        raise InputError(f"{filename}: the PDF could not be read ({error}). Export it again "
                         "or paste its text.") from None
    if not text.strip():
        raise InputError(f"{filename}: the PDF has no extractable text (a scanned PDF?). Run "
                         "OCR on it first, or paste the title and abstract.")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title_lines = [line for line in lines[:8] if len(line.split()) >= 3
                   and not re.search(r"arxiv|doi|preprint|http", line, re.I)][:2]
    title = " ".join(title_lines[:1])
    body = "\n".join(lines)
    match = re.search(r"\babstract\b[.:\s—-]*(.+?)(?:\n\s*(?:1\.?\s*)?introduction\b|\Z)",
                      body, re.I | re.S)
    abstract = match.group(1) if match else " ".join(body.split()[:250])
    return [{"title": title, "abstract": re.sub(r"\s+", " ", abstract).strip()[:4000],
             "text_source": "pdf", "file": filename}]


def parse_pasted(text: str) -> pd.DataFrame:
    """Blank-line-separated documents; `Title:` / `Abstract:` lines, else first line = title."""
    rows = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        fields = {}
        for line in lines:
            match = re.match(r"^(title|abstract|id|year|labels)\s*:\s*(.*)$", line, re.I)
            if match:
                fields[match.group(1).lower()] = match.group(2)
            elif fields:
                last = list(fields)[-1]
                fields[last] = f"{fields[last]} {line}".strip()
        if not fields:
            if len(lines) > 1 and len(lines[0].split()) <= 25:
                fields = {"title": lines[0], "abstract": " ".join(lines[1:])}
            else:
                fields = {"title": "", "abstract": " ".join(lines)}
        rows.append(fields)
    return _table(rows, "the pasted text")


def parse_upload(filename: str, data: bytes, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """The raw table of one uploaded file."""
    extension = Path(filename).suffix.lower().lstrip(".")
    if extension not in SUPPORTED:
        raise InputError(f"{filename}: .{extension or '(no extension)'} files are not "
                         f"supported. Use one of: {', '.join('.' + s for s in SUPPORTED)}.")
    if len(data) > max_bytes:
        raise InputError(f"{filename} is {len(data) / 1e6:.0f} MB; the limit is "
                         f"{max_bytes / 1e6:.0f} MB. Split it into smaller files.")
    if not data.strip():
        raise InputError(f"{filename} is empty.")
    if extension == "pdf":
        return _table(_pdf(data, filename), filename)
    text = decode(filename, data)
    if extension in ("txt", "md"):
        try:
            return parse_pasted(text)
        except InputError:
            raise InputError(f"{filename}: no text found.") from None
    readers = {"csv": lambda: _csv(text, filename, ","), "tsv": lambda: _csv(text, filename, "\t"),
               "jsonl": lambda: _jsonl(text, filename), "ndjson": lambda: _jsonl(text, filename),
               "json": lambda: _json(text, filename), "bib": lambda: _bibtex(text, filename),
               "ris": lambda: _ris(text, filename)}
    return _table(readers[extension](), filename)


def guess_mapping(table: pd.DataFrame) -> dict[str, str | None]:
    """Role -> column, from common column names (case-insensitive)."""
    lowered = {str(column).strip().lower(): str(column) for column in table.columns}
    return {role: next((lowered[name] for name in names if name in lowered), None)
            for role, names in ROLE_SYNONYMS.items()}


def to_documents(table: pd.DataFrame, mapping: dict[str, str | None],
                 id_prefix: str = "doc") -> list[Document]:
    """Apply a role mapping; rows without any text are left out, ids made unique."""
    docs, seen = [], set()
    for number, row in enumerate(table.to_dict("records"), 1):
        record = {role: row.get(column) for role, column in mapping.items() if column}
        record = {k: ("" if v is None or (isinstance(v, float) and v != v) else v)
                  for k, v in record.items()}
        doc = document_from_record(record, f"{id_prefix}-{number}")
        if not doc.model_input().strip():
            continue
        base, suffix = doc.id, 2
        while doc.id in seen:
            doc.id, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(doc.id)
        docs.append(doc)
    return docs


def drop_duplicates(docs: list[Document]) -> tuple[list[Document], int]:
    """Keep the first of documents with the same title and abstract (case and spaces ignored)."""
    kept, seen = [], set()
    for doc in docs:
        key = re.sub(r"\s+", " ", f"{doc.title}\x1f{doc.abstract}\x1f{doc.text}".lower()).strip()
        if key not in seen:
            seen.add(key)
            kept.append(doc)
    return kept, len(docs) - len(kept)


def token_report(docs: list[Document], tokenizer, max_length: int) -> pd.DataFrame:
    counts = tokenizer.count_tokens([doc.model_input() for doc in docs])
    return pd.DataFrame({"id": [d.id for d in docs], "title": [d.title for d in docs],
                         "tokens": counts, "truncated": [n > max_length for n in counts]})
