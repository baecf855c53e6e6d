"""Documents and the text SciMult sees: papers as `title [SEP] abstract`, others as plain text.

Readers for the CLI's input files: JSONL (`text`, or `title` and `abstract`), CSV with those
columns, or plain text with one document a line. Ids come from an `id` field, else the line
number (1-based).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scimult_app.errors import InputError

SEP = "[SEP]"


@dataclass
class Document:
    id: str
    title: str = ""
    abstract: str = ""
    text: str = ""
    year: int | None = None
    labels: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def model_input(self, sep: str = SEP) -> str:
        """The string the encoder sees, formatted as the reference evaluation does."""
        if self.text:
            return self.text
        if self.title and self.abstract:
            return f"{self.title} {sep} {self.abstract}"
        return self.title or self.abstract


def label_input(name: str, definition: str = "", sep: str = SEP) -> str:
    """A label on the candidate side: `name [SEP] definition`."""
    return f"{name} {sep} {definition}" if definition else name


def _year(value: Any) -> int | None:
    try:
        return int(str(value).strip()[:4])
    except (TypeError, ValueError):
        return None


def _labels(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if str(item).strip()]
    return [part.strip() for part in str(value).replace(";", "|").split("|") if part.strip()]


KNOWN = {"id", "title", "abstract", "text", "year", "labels"}


def document_from_record(record: dict[str, Any], fallback_id: str) -> Document:
    """Build a Document from a mapping with any of id/title/abstract/text/year/labels."""
    def text_of(name: str) -> str:
        value = record.get(name)
        return "" if value is None else str(value).strip()

    doc_id = text_of("id") or fallback_id
    return Document(id=doc_id, title=text_of("title"), abstract=text_of("abstract"),
                    text=text_of("text"), year=_year(record.get("year")),
                    labels=_labels(record.get("labels")),
                    extra={k: v for k, v in record.items() if k not in KNOWN})


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            if encoding == "utf-16" and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
                continue
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            if encoding == "utf-8-sig":
                raise InputError(
                    f"{path}: not UTF-8 text (byte {error.start}). Save the file as UTF-8 "
                    "and try again.") from None
    return data.decode("utf-8")


def _check_usable(path: Path, documents: list[Document]) -> list[Document]:
    if not documents:
        raise InputError(f"{path} holds no documents. Give JSONL with a 'text' field (or "
                         "'title' and 'abstract'), CSV with those columns, or plain text "
                         "with one document a line.")
    for number, document in enumerate(documents, 1):
        if not document.model_input().strip():
            raise InputError(f"{path}: document {number} (id {document.id}) has no text; it "
                             "needs 'text', or 'title' and/or 'abstract'.")
    seen: set[str] = set()
    for document in documents:
        if document.id in seen:
            raise InputError(f"{path}: the id {document.id!r} appears twice; ids must be unique.")
        seen.add(document.id)
    return documents


def jsonl_records(content: str, where: str, hint: str = "Each line must be one JSON object."
                  ) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; a bad line is an error naming it."""
    records = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}, line {number}: not valid JSON ({error.msg}). {hint}") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}, line {number}: expected a JSON object, found "
                             f"{type(record).__name__}. {hint}")
        records.append((number, record))
    return records


def parse_jsonl(content: str, where: str) -> list[Document]:
    return [document_from_record(record, str(number))
            for number, record in jsonl_records(content, where, "Each line must be one JSON "
                                                "object with 'text' or 'title'/'abstract'.")]


def parse_csv(content: str, where: str, delimiter: str = ",") -> list[Document]:
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    columns = {name.strip().lower() for name in (reader.fieldnames or [])}
    if not columns & {"text", "title", "abstract"}:
        raise InputError(f"{where}: no 'text', 'title' or 'abstract' column (found: "
                         f"{', '.join(sorted(columns)) or 'none'}). Rename the column that "
                         "holds the text.")
    documents = []
    for number, row in enumerate(reader, 1):
        record = {(key or "").strip().lower(): value for key, value in row.items()}
        documents.append(document_from_record(record, str(number)))
    return documents


def parse_lines(content: str) -> list[Document]:
    return [Document(id=str(number), text=line.strip())
            for number, line in enumerate(content.splitlines(), 1) if line.strip()]


def read_documents(path: str | Path) -> list[Document]:
    """Read JSONL, CSV or plain text (by extension) into Documents, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    content = _decode(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        documents = parse_jsonl(content, str(path))
    elif suffix in (".csv", ".tsv"):
        documents = parse_csv(content, str(path), "\t" if suffix == ".tsv" else ",")
    else:
        documents = parse_lines(content)
    return _check_usable(path, documents)
