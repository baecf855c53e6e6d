"""Uploads and pasted text into Documents: CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF, plain text.

`parse_upload` gives a raw table (columns as found), `guess_mapping` proposes which column
plays which role, `to_documents` applies it. Every error names the file and the fix.
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from scimult_app.corpus.documents import (
    Document,
    cell_text,
    is_missing,
    jsonl_records,
    parse_labels,
    parse_year,
)
from scimult_app.errors import InputError

MAX_BYTES: int | None = None  # no size limit: big JSONL/Parquet files stream (corpus.stream)
SUPPORTED = ("csv", "tsv", "jsonl", "ndjson", "json", "bib", "ris", "pdf", "txt", "md")
ROLE_SYNONYMS = {
    "id": ("id", "doc_id", "paper_id", "pmid", "key", "uid", "identifier", "corpus_id"),
    "title": ("title", "ti", "name", "paper_title"),
    "abstract": ("abstract", "summary", "description", "ab"),
    "text": ("text", "body", "content", "full_text", "document", "patient"),
    "labels": ("labels", "label", "keywords", "categories", "category", "field", "fields",
               "topics"),
    "year": ("year", "publication_year", "py", "date", "published", "publication_date"),
}
LIST_EXTRAS = ("cites", "relevant", "references")  # unmapped columns that hold id lists
HINTS = {
    "csv": "The first line must name the columns (e.g. title,abstract).",
    "tsv": "The first line must name the columns, separated by tabs.",
    "jsonl": "Each line must be one JSON object, e.g. {\"title\": ..., \"abstract\": ...}.",
    "ndjson": "Each line must be one JSON object, e.g. {\"title\": ..., \"abstract\": ...}.",
    "json": "Give a list of objects, e.g. [{\"title\": ..., \"abstract\": ...}].",
    "bib": "Entries look like @article{key, title = {...}, abstract = {...}}.",
    "ris": "Records start with 'TY  - ' and end with 'ER  - '.",
}


# ---------------------------------------------------------------- decoding and tables

def decode(filename: str, data: bytes) -> str:
    """UTF-8 (BOM allowed) or UTF-16 with a BOM; anything else is a clear error."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{filename}: damaged UTF-16 text. Save the file as UTF-8 and "
                             "upload it again.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{filename}: not UTF-8 text (byte {error.start} cannot be read; "
                         "Latin-1 or Windows-1252?). Save the file as UTF-8 and upload it "
                         "again.") from None


def _table(rows: list[dict], filename: str, extension: str = "") -> pd.DataFrame:
    if not rows:
        raise InputError(f"{filename}: no documents found (no rows). {HINTS.get(extension, '')}"
                         .strip())
    return pd.DataFrame(rows).astype(object).fillna("")  # object first: no dtype warning


# ---------------------------------------------------------------- CSV and JSON

def _csv(text: str, filename: str, delimiter: str) -> list[dict]:
    first = text.split("\n", 1)[0]
    if delimiter == "," and "," not in first:  # European spreadsheets use ';', some use tabs
        delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
    csv.field_size_limit(2**31 - 1)  # full texts can exceed the 128 kB default
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise InputError(f"{filename}: no header row. {HINTS['csv']}")
        names: list[str] = []
        for number, cell in enumerate(header, 1):
            name = cell.strip() or f"column {number}"
            names.append(name if name not in names else f"{name} ({number})")
        rows = []
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append({name: value.strip() for name, value in zip(names, cells)})
    except csv.Error as error:
        raise InputError(f"{filename}, line {reader.line_num}: not valid CSV ({error}). "
                         "Export the file again from your spreadsheet.") from None
    return rows


def _jsonl(text: str, filename: str) -> list[dict]:
    return [record for _, record in jsonl_records(text, filename, HINTS["jsonl"])]


def _json(text: str, filename: str) -> list[dict]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if text.lstrip().startswith("["):
            raise InputError(f"{filename}, line {error.lineno}: not valid JSON ({error.msg}). "
                             f"{HINTS['json']}") from None
        return _jsonl(text, filename)  # many .json files are really JSON Lines
    if isinstance(value, dict):  # {"papers": [...]} or a single record
        lists = [v for v in value.values() if isinstance(v, list) and v
                 and all(isinstance(item, dict) for item in v)]
        value = lists[0] if lists else [value]
    if not isinstance(value, list):
        raise InputError(f"{filename}: expected a list of objects, found "
                         f"{type(value).__name__}. {HINTS['json']}")
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise InputError(f"{filename}: item {number} of the list is a "
                             f"{type(item).__name__}, not an object. {HINTS['json']}")
    return value


# ---------------------------------------------------------------- BibTeX

ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
           "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
           "c": "\u0327", "k": "\u0328"}
LETTERS = {"i": "i", "j": "j", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ",
           "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å", "l": "ł", "L": "Ł"}


def clean_latex(value: str) -> str:
    """Plain text from a BibTeX value: accents resolved, commands, braces and $ dropped."""
    value = re.sub(r"\\([&%$#_{}])", lambda m: {"{": "\x01", "}": "\x02"}.get(m[1], m[1]), value)
    value = re.sub(r"\\([a-zA-Z]+)(?![a-zA-Z])\s*",
                   lambda m: LETTERS.get(m[1], m[0]), value)  # \ss, \o, \i ...
    value = re.sub(r"\\([`'^\"~=.]|[uvHck](?![a-zA-Z]))\s*(?:\{\s*([a-zA-Z])\s*\}|([a-zA-Z]))",
                   lambda m: (m[2] or m[3]) + ACCENTS[m[1]], value)
    value = re.sub(r"\\[a-zA-Z]+\s*|\\.|[{}$]",
                   lambda m: " " if m[0] in ("\\\\", "\\ ", "\\,", "\\;") else "", value)
    value = value.replace("~", " ").replace("\x01", "{").replace("\x02", "}")
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", value)).strip()


def _closing(text: str, start: int, close: str) -> int:
    """Index of the bracket closing an entry whose body starts at `start`, or -1."""
    depth = 0
    for position in range(start, len(text)):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position if close == "}" else -1
            depth -= 1
        elif char == ")" and close == ")" and depth == 0:
            return position
    return -1


def _bib_value(body: str, start: int, strings: dict[str, str]) -> tuple[str, int]:
    """A value (braced, quoted, bare, joined by #) starting at `start`; it and the next index."""
    parts, position = [], start
    while position < len(body):
        char = body[position]
        if char in "{\"":
            depth, end = 0, position
            while end < len(body):
                if body[end] == "{":
                    depth += 1
                elif body[end] == "}":
                    depth -= 1
                if depth == 0 and end > position and (
                        (char == "{" and body[end] == "}") or (char == '"' and body[end] == '"')):
                    break
                end += 1
            parts.append(body[position + 1:end])
            position = end + 1
        else:
            bare = re.compile(r"[^,#\s}]+").match(body, position)
            word = bare.group(0) if bare else ""
            parts.append(strings.get(word.lower(), word))
            position = bare.end() if bare else position
        hash_sign = re.compile(r"\s*#\s*").match(body, position)
        if not hash_sign:
            break
        position = hash_sign.end()
    return "".join(parts), position


def _bib_fields(body: str, strings: dict[str, str]) -> dict[str, str]:
    fields, position = {}, 0
    name_pattern = re.compile(r"[\s,]*([A-Za-z][\w:.+-]*)\s*=\s*")
    while True:
        name = name_pattern.match(body, position)
        if not name:
            return fields
        value, position = _bib_value(body, name.end(), strings)
        fields[name.group(1).lower()] = value


def _bibtex(text: str, filename: str) -> list[dict]:
    rows, strings, position = [], {}, 0
    start_pattern = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
    while (at := text.find("@", position)) >= 0:
        start = start_pattern.match(text, at)
        if not start:
            position = at + 1
            continue
        kind = start.group(1).lower()
        end = _closing(text, start.end(), "}" if start.group(2) == "{" else ")")
        if end < 0:
            line = text.count("\n", 0, at) + 1
            raise InputError(f"{filename}, line {line}: the @{kind} entry never closes "
                             "(unbalanced braces?). Fix it or export the file again.")
        body, position = text[start.end():end], end + 1
        if kind in ("comment", "preamble"):
            continue
        if kind == "string":
            strings.update({k: clean_latex(v) for k, v in _bib_fields(body, strings).items()})
            continue
        key, _, rest = body.partition(",")
        if "=" in key:  # an entry without a key
            key, rest = "", body
        record = {"id": key.strip()}
        record.update({name: clean_latex(value)
                       for name, value in _bib_fields(rest, strings).items()})
        if "keywords" in record:
            record["labels"] = "; ".join(
                part.strip() for part in re.split(r"[,;]", record.pop("keywords")) if part.strip())
        rows.append(record)
    return rows


# ---------------------------------------------------------------- RIS

RIS_TAGS = {"TI": "title", "T1": "title", "AB": "abstract", "N2": "abstract", "PY": "year",
            "Y1": "year", "DA": "year", "KW": "labels", "ID": "id", "DO": "doi",
            "AU": "authors", "A1": "authors", "UR": "url", "T2": "journal", "JO": "journal"}
RIS_JOINED = {"labels", "authors"}


def _ris(text: str) -> list[dict]:
    rows, record, last = [], {}, None
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9])\s{1,2}-(?:\s(.*))?$", line.rstrip())
        if not match:
            if last and line.strip() and record.get(last):  # a wrapped long value
                record[last] = f"{record[last]} {line.strip()}"
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        last = None
        if tag in ("TY", "ER"):
            if record:
                rows.append(record)
            record = {}
        elif tag in RIS_TAGS and value:
            key = RIS_TAGS[tag]
            if key in RIS_JOINED and record.get(key):
                record[key] = f"{record[key]}; {value}"
            elif key not in record:
                record[key], last = value, key
    if record:
        rows.append(record)
    return rows


# ---------------------------------------------------------------- PDF

STAMP = re.compile(r"arxiv|doi\b|preprint|https?:|www\.|©|copyright|journal of|vol\.|"
                   r"proceedings|conference|^page \d|^\d+$|@", re.I)
ABSTRACT_LINE = re.compile(r"^\W*abstract\b[\s.:—–-]*(.*)$", re.I)
INTRO_LINE = re.compile(r"^\s*(?:(?:\d+|[IV]+)\.?\s*)?introduction\b"
                        r"|^\s*(?:keywords|index terms)\b", re.I)
PDF_PAGES = 3  # pages read: title and abstract are on the first
ABSTRACT_WORDS, FALLBACK_WORDS = 400, 250
JOINERS = ("of", "for", "and", "the", "in", "on", "with", "to", "a", "an", "via", "from", "by")


def _pdf_lines(data: bytes, filename: str) -> tuple[list[str], int, int]:
    """Non-blank lines of the first PDF_PAGES pages, pages read, pages in the file."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password")
        total = len(reader.pages)
        read = min(total, PDF_PAGES)
        text = "\n".join(reader.pages[n].extract_text() or "" for n in range(read))
    except FileNotDecryptedError:
        raise InputError(f"{filename}: the PDF is password-protected. Save an unprotected "
                         "copy, or paste its title and abstract.") from None
    except Exception as error:  # pypdf raises many kinds of error on damaged files
        raise InputError(f"{filename}: the PDF is damaged and could not be read ({error}). "
                         "Export or download it again, or paste its title and "
                         "abstract.") from None
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    if not any(lines):
        raise InputError(f"{filename}: the PDF has no extractable text (a scanned PDF?). Run "
                         "OCR on it first, or paste the title and abstract.")
    return [line for line in lines if line], read, total


def _join_lines(lines: list[str]) -> str:
    """Lines as one paragraph, mending words hyphenated across lines."""
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


def _pdf(data: bytes, filename: str) -> list[dict]:
    lines, pages_read, pages_total = _pdf_lines(data, filename)
    abstract_at = next((n for n, line in enumerate(lines) if ABSTRACT_LINE.match(line)), None)
    head = lines[:abstract_at if abstract_at is not None else 15]
    title_at = next((n for n, line in enumerate(head)
                     if len(line.split()) >= 3 and len(line) >= 12 and not STAMP.search(line)),
                    None)
    title_lines = [] if title_at is None else [lines[title_at]]
    if title_at is not None and title_at + 1 < len(head):
        following = head[title_at + 1]
        first = title_lines[0]
        wrapped = (first.endswith((":", "-")) or first.rsplit(" ", 1)[-1].lower() in JOINERS
                   or (following[:1].islower() and len(first) >= 40))
        if wrapped and not STAMP.search(following):
            title_lines.append(following)
    abstract, cut = "", ""
    if abstract_at is not None:
        body = [ABSTRACT_LINE.match(lines[abstract_at]).group(1), *lines[abstract_at + 1:]]
        end = next((n for n, line in enumerate(body) if n and INTRO_LINE.match(line)), len(body))
        words = _join_lines([line for line in body[:end] if line]).split()
        abstract = " ".join(words[:ABSTRACT_WORDS])
        if len(words) > ABSTRACT_WORDS:
            cut = f"after {ABSTRACT_WORDS} words (of {len(words)} before the next heading)"
        elif end < len(body):
            cut = f"at the heading {body[end][:60]!r}"
        else:
            cut = f"at the end of page {pages_read} (no Introduction or Keywords heading)"
    if abstract_at is None or not abstract:
        words = _join_lines(lines[(title_at or 0) + len(title_lines):]).split()
        abstract = " ".join(words[:FALLBACK_WORDS])
        cut = (f"no Abstract heading: the first {FALLBACK_WORDS} words after the title "
               f"(of {len(words)} on the pages read)" if len(words) > FALLBACK_WORDS
               else f"no Abstract heading: all {len(words)} words after the title")
    return [{"title": _join_lines(title_lines), "abstract": abstract,
             "text_source": "pdf", "file": filename, "pages_read": pages_read,
             "pages_total": pages_total, "abstract_cut": cut}]


# ---------------------------------------------------------------- pasted and plain text

PASTE_FIELDS = {"title": "title", "abstract": "abstract", "summary": "abstract", "id": "id",
                "year": "year", "labels": "labels", "keywords": "labels", "authors": "authors",
                "author": "authors", "doi": "doi", "journal": "journal", "url": "url",
                "text": "text"}
FIELD_LINE = re.compile(rf"^({'|'.join(PASTE_FIELDS)})\s*:\s*(.*)$", re.I)


def _pasted_block(lines: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    before: list[str] = []  # lines before the first `Field:` line
    last = None
    for line in lines:
        match = FIELD_LINE.match(line)
        if match:
            last = PASTE_FIELDS[match.group(1).lower()]
            fields[last] = f"{fields[last]} {match.group(2)}".strip() if last in fields \
                else match.group(2).strip()
        elif last:
            fields[last] = f"{fields[last]} {line}".strip()
        else:
            before.append(line)
    if before:
        first = re.sub(r"^#+\s*", "", before[0])  # a Markdown heading
        if not fields and len(before) > 1 and len(first.split()) <= 25:
            fields = {"title": first, "abstract": " ".join(before[1:])}
        elif not fields:
            fields = {"title": "", "abstract": " ".join(before)}
        elif "title" not in fields and len(before) == 1 and len(first.split()) <= 25:
            fields["title"] = first
        else:
            fields["abstract"] = " ".join([*before, fields.get("abstract", "")]).strip()
    return fields


def parse_pasted(text: str) -> pd.DataFrame:
    """Documents separated by blank lines; `Title:` / `Abstract:` lines, else first line = title."""
    rows = []
    for block in re.split(r"\n[ \t\r\f\v]*\n", text.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if lines:
            rows.append(_pasted_block(lines))
    if not rows:
        raise InputError("Nothing to read: paste papers separated by a blank line, each a "
                         "title line and its abstract (or 'Title: ...' and 'Abstract: ...').")
    return pd.DataFrame(rows).astype(object).fillna("")  # object first: no dtype warning


# ---------------------------------------------------------------- uploads

def check_size(filename: str, size: int, max_bytes: int | None = None) -> None:
    """Refuse a file over the corpus-file limit (if one is set), by its size alone, before
    reading it."""
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if max_bytes is not None and size > max_bytes:
        raise InputError(f"{filename} is {size / 1e6:.1f} MB; the limit is "
                         f"{max_bytes / 1e6:g} MB. Split it into smaller files.")


def parse_upload(filename: str, data: bytes, max_bytes: int | None = MAX_BYTES
                 ) -> pd.DataFrame:
    """The raw table of one uploaded file: one row per document, columns as found."""
    extension = Path(filename).suffix.lower().lstrip(".")
    if extension not in SUPPORTED:
        kind = f".{extension} files" if extension else "Files without an extension"
        raise InputError(f"{filename}: {kind} cannot be read. Use one of: "
                         f"{', '.join('.' + s for s in SUPPORTED)}.")
    if max_bytes is not None:
        check_size(filename, len(data), max_bytes)
    if not data.strip():
        raise InputError(f"{filename} is empty. Choose a file with papers in it.")
    if extension == "pdf":
        return _table(_pdf(data, filename), filename)
    text = decode(filename, data)
    if extension in ("txt", "md"):
        try:
            return parse_pasted(text)
        except InputError:
            raise InputError(f"{filename} holds no text. Separate papers by a blank "
                             "line.") from None
    if extension in ("csv", "tsv"):
        rows = _csv(text, filename, "\t" if extension == "tsv" else ",")
    elif extension in ("jsonl", "ndjson"):
        rows = _jsonl(text, filename)
    elif extension == "json":
        rows = _json(text, filename)
    elif extension == "bib":
        rows = _bibtex(text, filename)
    else:
        rows = _ris(text)
    return _table(rows, filename, extension)


# ---------------------------------------------------------------- table -> documents

def _key(column: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(column).strip().lower())


def guess_mapping(table: pd.DataFrame) -> dict[str, str | None]:
    """Role -> column, from common column names (case-insensitive); None where nothing fits."""
    columns = {_key(column): str(column) for column in reversed(list(table.columns))}
    mapping = {role: next((columns[name] for name in names if name in columns), None)
               for role, names in ROLE_SYNONYMS.items()}
    if not any(mapping[role] for role in ("title", "abstract", "text")) and len(table):
        used = set(mapping.values())
        lengths = {str(c): table[c].astype(str).str.len().mean() for c in table.columns
                   if str(c) not in used and table[c].map(lambda v: isinstance(v, str)).all()}
        if lengths:
            mapping["text"] = max(lengths, key=lengths.get)  # the wordiest text column
    return mapping


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a table cell (numpy scalars and arrays become Python ones)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def to_documents_counted(table: pd.DataFrame, mapping: dict[str, str | None],
                         id_prefix: str = "doc") -> tuple[list[Document], int]:
    """Documents from a table and a role mapping, and how many rows had no text (left out).

    Missing ids become `{id_prefix}-{row}` (the bare row number without a prefix); repeated
    ids get `-2`, `-3`; columns the mapping does not use go to `Document.extra`.
    """
    used = {column for column in mapping.values() if column}
    docs, seen, skipped = [], set(), 0
    for number, row in enumerate(table.to_dict("records"), 1):
        def cell(role: str, row: dict = row) -> Any:
            return row.get(mapping[role]) if mapping.get(role) else None

        extra = {}
        for column, value in row.items():
            if str(column) in used or is_missing(value) or (isinstance(value, str) and not value):
                continue
            value = parse_labels(value) if str(column).lower() in LIST_EXTRAS else _plain(value)
            extra[str(column)] = value
        doc = Document(id=cell_text(cell("id")) or "-".join(filter(None, (id_prefix, str(number)))),
                       title=cell_text(cell("title")), abstract=cell_text(cell("abstract")),
                       text=cell_text(cell("text")), year=parse_year(cell("year")),
                       labels=parse_labels(cell("labels")), extra=extra)
        if not doc.model_input().strip():
            skipped += 1
            continue
        base, suffix = doc.id, 2
        while doc.id in seen:
            doc.id, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(doc.id)
        docs.append(doc)
    return docs, skipped


def to_documents(table: pd.DataFrame, mapping: dict[str, str | None],
                 id_prefix: str = "doc") -> list[Document]:
    """Apply a role mapping; rows without any text are left out (see to_documents_counted)."""
    return to_documents_counted(table, mapping, id_prefix)[0]


def drop_duplicates(docs: list[Document]) -> tuple[list[Document], int]:
    """Keep the first of documents with equal title and abstract/text (case, spaces ignored)."""
    kept, seen = [], set()
    for doc in docs:
        key = tuple(" ".join(part.lower().split()) for part in (doc.title, doc.abstract, doc.text))
        if key not in seen:
            seen.add(key)
            kept.append(doc)
    return kept, len(docs) - len(kept)


def count_cap(max_length: int) -> int:
    """Token counts in reports stop here (a book is not tokenized to its end)."""
    return max(4 * max_length, 2048)


def token_report(docs: list[Document], tokenizer: Any, max_length: int) -> pd.DataFrame:
    """id, title, tokens (with [CLS] and [SEP]; above count_cap(max_length) reported as the
    cap + 1) and whether the model will cut the document."""
    cap = count_cap(max_length)
    texts = [doc.model_input() for doc in docs]
    counts = list(tokenizer.count_tokens(texts, limit=cap)) if docs else []
    return pd.DataFrame({"id": [d.id for d in docs], "title": [d.title for d in docs],
                         "tokens": pd.Series(counts, dtype="int64"),
                         "truncated": pd.Series([n > max_length for n in counts], dtype=bool)})


def read_documents(path: str | Path) -> list[Document]:
    """A whole input file for the CLI, strictly: every row needs text, ids must be unique.

    Any upload format by extension (JSONL, JSON, CSV, TSV, BibTeX, RIS, PDF); `.txt` and
    files without a known extension hold one document a line. Ids come from an id column,
    else the row or line number (from 1).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error}). Check the path."
                         ) from None
    extension = path.suffix.lower().lstrip(".")
    if extension in SUPPORTED and extension not in ("txt", "md"):
        table = parse_upload(str(path), data, max_bytes=len(data) + 1)
        mapping = guess_mapping(table)
    else:
        lines = [line.strip() for line in decode(str(path), data).splitlines()]
        table = pd.DataFrame({"id": [str(n) for n, line in enumerate(lines, 1) if line],
                              "text": [line for line in lines if line]})
        mapping = {"id": "id", "text": "text"}
        if table.empty:
            raise InputError(f"{path} holds no documents. Give JSONL with a 'text' field (or "
                             "'title' and 'abstract'), CSV with those columns, or plain text "
                             "with one document a line.")
    if mapping.get("id"):
        ids = table[mapping["id"]].map(cell_text)
        repeated = ids[ids.duplicated() & (ids != "")]
        if len(repeated):
            raise InputError(f"{path}: the id {repeated.iloc[0]!r} appears twice; ids must be "
                             "unique.")
    docs, skipped = to_documents_counted(table, mapping, id_prefix="")
    if skipped or not docs:
        raise InputError(f"{path}: {skipped} of {len(table)} rows have no text; each needs "
                         "'text', or 'title' and/or 'abstract'.")
    return docs


def queries_from_documents(docs: list[Document]) -> list[dict]:
    """Search queries (`id`, `text`, `relevant` paper ids) from documents read by any reader."""
    return [{"id": doc.id, "text": doc.model_input(),
             "relevant": parse_labels(doc.extra.get("relevant"))} for doc in docs]


def read_queries(filename: str, data: bytes) -> list[dict]:
    """Queries with their relevant paper ids from an uploaded CSV/TSV/JSONL/JSON file."""
    table = parse_upload(filename, data)
    return queries_from_documents(to_documents(table, guess_mapping(table), "query"))
