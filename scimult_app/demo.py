"""The demo data shipped in data/: papers, patients, queries and two label sets."""
from __future__ import annotations

import json
from pathlib import Path

from .documents import Document, document_from_record

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LABEL_SETS = {"Fields of study": "labels_fields.jsonl",
              "Clinical topics": "labels_clinical_topics.jsonl"}


def _records(name: str, data_dir: Path | None = None) -> list[dict]:
    path = (data_dir or DATA_DIR) / name
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def papers(data_dir: Path | None = None) -> list[Document]:
    """The demo corpus; `kind` and `cites` land in Document.extra."""
    return [document_from_record(record, str(n))
            for n, record in enumerate(_records("papers.jsonl", data_dir), 1)]


def patients(data_dir: Path | None = None) -> list[dict]:
    return _records("patients.jsonl", data_dir)


def queries(data_dir: Path | None = None) -> list[dict]:
    return _records("queries.jsonl", data_dir)


def label_sets(data_dir: Path | None = None) -> dict[str, Path]:
    """Display name -> file of each shipped label set that exists."""
    folder = data_dir or DATA_DIR
    return {name: folder / file for name, file in LABEL_SETS.items() if (folder / file).is_file()}
