"""Documents and the text SciMult sees: papers as `title [SEP] abstract`, others as plain text.

Also the one definition of how a cell becomes an id, a year or a list of labels, used by
every reader (`corpus.readers`) and the corpus store.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
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


def display_title(doc: Document, words: int = 10) -> str:
    """What to call a paper on screen: its title, else the first `words` words of its abstract
    or text with an ellipsis (many corpora, SciFact among them, have no titles), else its id."""
    if doc.title.strip():
        return " ".join(doc.title.split())
    body = (doc.abstract or doc.text).split()
    if not body:
        return doc.id
    return " ".join(body[:words]) + ("…" if len(body) > words else "")


def display_label(doc: Document, words: int = 10) -> str:
    """`display_title (year) · id`: readable, and the id beside it to tell papers apart."""
    year = f" ({doc.year})" if doc.year else ""
    title = display_title(doc, words)
    return f"{title}{year}" if title == doc.id else f"{title}{year} · {doc.id}"


def json_default(value: Any) -> Any:
    """What JSON makes of a value it has no type for (in `extra`): numpy scalars and arrays
    as lists and numbers, sets and tuples as lists, anything else as its text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def label_input(name: str, definition: str = "", sep: str = SEP) -> str:
    """A label on the candidate side: `name [SEP] definition`."""
    return f"{name} {sep} {definition}" if definition else name


def is_missing(value: Any) -> bool:
    """None, NaN or NaT (a table's empty cell); lists and arrays are never missing."""
    if value is None or type(value).__name__ == "NAType":
        return True
    try:
        return bool(value != value)  # NaN and NaT are the only values unequal to themselves
    except (TypeError, ValueError):  # arrays
        return False


def cell_text(value: Any) -> str:
    """A cell as stripped text: '' for missing, 2019.0 as '2019'."""
    if is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_year(value: Any) -> int | None:
    """A year from 2019, 2019.0, '2019-05-01', '05/01/2019', 'May 2019' or a timestamp."""
    if is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() and 1000 <= value <= 2999 else None
    if hasattr(value, "year"):
        return int(value.year)
    match = re.search(r"(?<!\d)(1[5-9]\d\d|2\d\d\d)(?!\d)", str(value))
    return int(match.group(1)) if match else None


def parse_labels(value: Any) -> list[str]:
    """Labels from a list, or a string split on ';' or '|'."""
    if is_missing(value):
        return []
    if isinstance(value, str):
        value = re.split(r"[;|]", value)
    elif not isinstance(value, (list, tuple, set)) and hasattr(value, "tolist"):
        value = value.tolist()
    elif not isinstance(value, (list, tuple, set)):
        value = [value]
    return [cell_text(item) for item in value if cell_text(item)]


KNOWN = {"id", "title", "abstract", "text", "year", "labels"}


def document_from_record(record: dict[str, Any], fallback_id: str) -> Document:
    """Build a Document from a mapping with any of id/title/abstract/text/year/labels."""
    doc_id = cell_text(record.get("id")) or fallback_id
    return Document(id=doc_id, title=cell_text(record.get("title")),
                    abstract=cell_text(record.get("abstract")), text=cell_text(record.get("text")),
                    year=parse_year(record.get("year")), labels=parse_labels(record.get("labels")),
                    extra={k: v for k, v in record.items() if k not in KNOWN})


def json_object(line: str, where: str, hint: str = "Each line must be one JSON object.") -> dict:
    """One JSON object from one line of JSONL; anything else is an error naming `where`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not valid JSON ({error.msg}). {hint}") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, found {type(record).__name__}. {hint}")
    return record


def jsonl_records(content: str, where: str, hint: str = "Each line must be one JSON object."
                  ) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; a bad line is an error naming it."""
    records = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        record = json_object(line, f"{where}, line {number}", hint)
        records.append((number, record))
    return records
