"""Label sets for classification as retrieval: read them and turn them into label texts."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from scimult_app.corpus.documents import jsonl_records, label_input
from scimult_app.errors import InputError


@dataclass
class Label:
    label: str  # id, as in a paper's `labels`
    name: str
    definition: str = ""


def label_id_from_name(name: str) -> str:
    """A label id from a name: lower case, runs of non-word characters turned into '-'."""
    return re.sub(r"[^\w]+", "-", name.strip().lower()).strip("-_") or name.strip()


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _records_csv(filename: str, content: str, delimiter: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        columns = [(name or "").strip().lower() for name in reader.fieldnames or []]
        if "name" not in columns:
            raise InputError(f"{filename}: no 'name' column (found: {', '.join(columns) or 'none'}). "
                             "A label set needs 'name', optionally 'definition' and 'label'.")
        return [(number, {(key or "").strip().lower(): value for key, value in row.items()})
                for number, row in enumerate(reader, 2)]
    except csv.Error as error:
        raise InputError(f"{filename}, line {reader.line_num}: not valid CSV ({error}). Save the "
                         "label set again from your spreadsheet as CSV.") from None


def _records_jsonl(filename: str, content: str) -> list[tuple[int, dict]]:
    hint = "Each line must be one JSON object with 'name' and 'definition'."
    return [(number, {str(key).strip().lower(): value for key, value in record.items()})
            for number, record in jsonl_records(content, filename, hint)]


def read_label_set(filename: str, data: bytes) -> list[Label]:
    """Labels from CSV/TSV (columns) or JSONL (fields): name, optional definition and label id.

    A missing label id is made from the name (label_id_from_name). Raises InputError naming the file.
    """
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{filename}: not UTF-8 text (byte {error.start}). Save it as UTF-8.") from None
    if not content.strip():
        raise InputError(f"{filename} is empty. Give CSV or JSONL with 'name' and 'definition'.")
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json") or (suffix not in (".csv", ".tsv")
                                                    and content.lstrip().startswith("{")):
        records, unit = _records_jsonl(filename, content), "line"
    else:
        records, unit = _records_csv(filename, content, "\t" if suffix == ".tsv" else ","), "row"
    labels, first_seen = [], {}
    for number, record in records:
        name = _text(record.get("name"))
        if not name:
            if not any(_text(value) for value in record.values()):
                continue  # a blank row
            raise InputError(f"{filename}, {unit} {number}: the label has no name.")
        label_id = _text(record.get("label")) or _text(record.get("id")) or label_id_from_name(name)
        if label_id in first_seen:
            raise InputError(f"{filename}: the label id {label_id!r} appears twice ({unit}s "
                             f"{first_seen[label_id]} and {number}); label ids must be unique.")
        first_seen[label_id] = number
        labels.append(Label(label_id, name, _text(record.get("definition"))))
    if not labels:
        raise InputError(f"{filename} holds no labels.")
    return labels


def label_texts(labels: Iterable[Label]) -> list[str]:
    """The candidate-side text of each label: `name [SEP] definition`."""
    return [label_input(label.name, label.definition) for label in labels]
