"""The demo data shipped in data/: papers, patients, queries and two label sets.

Every loader takes an optional `data_dir` (default: the repository's data/ folder).
"""
from __future__ import annotations

import json
from pathlib import Path

from scimult_app.corpus.documents import Document, document_from_record
from scimult_app.errors import InputError

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
LABEL_SETS = {"Fields of study": "labels_fields.jsonl",
              "Clinical topics": "labels_clinical_topics.jsonl"}


def _records(name: str, data_dir: Path | str | None = None) -> list[dict]:
    path = Path(data_dir or DATA_DIR) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} is missing; the demo data ships in the repository's data/ "
                         "folder (check out or reinstall the app).") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise InputError(f"{path}, line {number}: not valid JSON ({error.msg}).") from None
    return records


def papers(data_dir: Path | str | None = None) -> list[Document]:
    """The demo corpus; `kind` and `cites` land in Document.extra."""
    return [document_from_record(record, str(n))
            for n, record in enumerate(_records("papers.jsonl", data_dir), 1)]


def patients(data_dir: Path | str | None = None) -> list[dict]:
    """Patient summaries: id, age, sex, text, relevant_articles, similar_patients."""
    return _records("patients.jsonl", data_dir)


def queries(data_dir: Path | str | None = None) -> list[dict]:
    """Literature queries: id, text, relevant (paper ids)."""
    return _records("queries.jsonl", data_dir)


def label_sets(data_dir: Path | str | None = None) -> dict[str, Path]:
    """Display name -> file of each shipped label set that exists (label, name, definition)."""
    folder = Path(data_dir or DATA_DIR)
    return {name: folder / file for name, file in LABEL_SETS.items() if (folder / file).is_file()}
