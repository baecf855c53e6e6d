"""Synthetic paper corpora for the scale benchmarks: titles and abstracts of realistic length.

Each paper has an id, a title (6 to 14 words), an abstract of sentences drawn from a small
scientific vocabulary (word counts lognormal around 200, cut to 60..450, like PubMed
abstracts), a year and one to three labels. The text is meaningless but tokenises like real
abstracts. Output by suffix: .jsonl, .jsonl.gz or .parquet.

    python bench/make_corpus.py --papers 100000 --output /tmp/papers-100k.jsonl.gz [--seed 0]
"""
from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np

NOUNS = ("protein cell gene receptor pathway tumour patient cohort model network graph "
         "embedding sequence structure mutation expression signal image segmentation "
         "classifier dataset benchmark transformer attention encoder decoder citation "
         "retrieval query document corpus abstract outcome therapy dose trial biomarker "
         "variant genome enzyme antibody neuron cortex synapse membrane kinase ligand "
         "molecule catalyst polymer crystal lattice spectrum sensor circuit algorithm "
         "optimisation gradient loss objective inference estimator distribution sample "
         "population risk survival mortality infection vaccine virus bacteria microbiome "
         "climate ocean carbon emission soil crop yield species habitat").split()
VERBS = ("improves reduces predicts regulates increases inhibits encodes measures detects "
         "outperforms explains modulates induces supports reveals identifies captures "
         "estimates separates links activates suppresses quantifies").split()
ADJECTIVES = ("novel robust sparse dense clinical chronic acute multi-task contrastive "
              "large-scale significant adaptive hierarchical temporal spatial genomic "
              "molecular statistical deep shallow efficient scalable noisy").split()
OPENERS = ("We show that", "Here we report that", "Our results suggest that",
           "In this study,", "We find that", "Furthermore,", "In contrast,", "Overall,")
LABELS = [f"field-{i:02d}" for i in range(40)]


def _sentence(rng: np.random.Generator, words: int) -> str:
    parts = [OPENERS[rng.integers(len(OPENERS))]]
    while len(parts) < words:
        parts += [ADJECTIVES[rng.integers(len(ADJECTIVES))], NOUNS[rng.integers(len(NOUNS))],
                  VERBS[rng.integers(len(VERBS))], "the", NOUNS[rng.integers(len(NOUNS))],
                  "of", NOUNS[rng.integers(len(NOUNS))]]
    return " ".join(parts[:words]) + "."


def paper(rng: np.random.Generator, number: int) -> dict:
    length = int(np.clip(rng.lognormal(np.log(200), 0.35), 60, 450))
    sentences, written = [], 0
    while written < length:
        words = int(rng.integers(12, 30))
        sentences.append(_sentence(rng, words))
        written += words
    title_words = [w for _ in range(4) for w in (ADJECTIVES[rng.integers(len(ADJECTIVES))],
                                                 NOUNS[rng.integers(len(NOUNS))])]
    return {"id": f"p{number:07d}",
            "title": " ".join(title_words[:int(rng.integers(6, 15))]).capitalize(),
            "abstract": " ".join(sentences), "year": int(rng.integers(1990, 2025)),
            "labels": [LABELS[i] for i in rng.choice(len(LABELS), int(rng.integers(1, 4)),
                                                     replace=False)]}


def papers(count: int, seed: int = 0, start: int = 0):
    rng = np.random.default_rng(seed)
    for number in range(start, start + count):
        yield paper(rng, number)


def write_corpus(path: str | Path, count: int, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        writer = None
        batch = []
        for record in papers(count, seed):
            batch.append(record)
            if len(batch) == 10_000:
                table = pa.Table.from_pylist(batch)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                batch = []
        if batch:
            table = pa.Table.from_pylist(batch)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        writer.close()
        return path
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as out:
        for record in papers(count, seed):
            out.write(json.dumps(record) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--output", required=True, help=".jsonl, .jsonl.gz or .parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.time()
    path = write_corpus(args.output, args.papers, args.seed)
    print(f"wrote {path}: {args.papers} papers, {path.stat().st_size / 1e6:.1f} MB in "
          f"{time.time() - began:.1f} s")


if __name__ == "__main__":
    main()
