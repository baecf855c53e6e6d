"""Evaluate the built-in models on the demo data's judged queries and print the README tables.

    python bench/demo_evaluate.py [--models demo minilm] [--output-dir DIR]

Runs `python -m scimult_app evaluate` (the same code) for each model and judged set: the 133
literature queries (`data/qrels.tsv`), the 24 the demo model never trained on
(`data/qrels_heldout.tsv`) and the 18 patients against the papers (`data/patients_qrels.tsv`),
with the default systems (each expert, BM25, RRF of BM25 and the search expert) and, for the
patients, RRF of BM25 and the link expert too. Builds the demo model first if needed (minutes).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scimult_app.cli import main  # noqa: E402

DATA = ROOT / "data"
SETS = {
    "literature queries (133)": ("queries.jsonl", "qrels.tsv"),
    "held-out queries (24)": ("queries.jsonl", "qrels_heldout.tsv"),
    "patients to papers (18)": ("patients.jsonl", "patients_qrels.tsv"),
}
SYSTEMS = ["search", "link", "classification", "bm25", "rrf:bm25+search", "rrf:bm25+link"]
METRICS = [("ndcg@10", "nDCG@10"), ("mrr", "MRR"), ("recall@100", "R@100"), ("p@10", "P@10")]


def evaluate(model: str, queries: str, qrels: str, output: Path) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # the CLI's own table; ours is printed below
        status = main(["evaluate", "--checkpoint", model, "--queries", str(DATA / queries),
                       "--qrels", str(DATA / qrels), "--corpus", str(DATA / "papers.jsonl"),
                       "--systems", *SYSTEMS, "--output", str(output)])
    if status:
        raise SystemExit(f"evaluate failed for {model} on {qrels} (exit {status})")
    return json.loads(output.read_text())


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["demo", "minilm"])
    parser.add_argument("--output-dir", default=None, help="keep the metrics JSON files here")
    args = parser.parse_args()
    folder = Path(args.output_dir or tempfile.mkdtemp(prefix="demo-evaluate-"))
    folder.mkdir(parents=True, exist_ok=True)
    tables = []
    for title, (queries, qrels) in SETS.items():
        lines = [f"\n{title}\n", "| model | system | " + " | ".join(m for _, m in METRICS)
                 + " | vs the run's best nDCG@10 |", "|---|---|" + "---|" * (len(METRICS) + 1)]
        bm25_shown = False
        for model in args.models:
            result = evaluate(model, queries, qrels, folder / f"{model}-{Path(qrels).stem}.json")
            verdicts = {c["b"]: c["p_value"] for c in result.get("comparisons", [])}
            systems = result["systems"]
            for system, values in systems.items():
                # a single-expert model ranks alike under every expert: show each ranking once
                twin = "search" if system in ("link", "classification") else "rrf:bm25+search"
                if system != twin and system.removeprefix("rrf:bm25+") in ("link", "classification") \
                        and values["per_query"] == systems.get(twin, {}).get("per_query"):
                    continue
                if system == "bm25":  # no model in it: the same for every model
                    if bm25_shown:
                        continue
                    bm25_shown = True
                p = verdicts.get(system)
                versus = ("best" if p is None else "p ≤ 0.0001" if p <= 1 / 10_001 + 1e-12
                          else f"p = {p:.2g}")
                lines.append(f"| {'-' if system == 'bm25' else model} | {system} | "
                             + " | ".join(f"{values[key]:.3f}" for key, _ in METRICS)
                             + f" | {versus} |")
        tables.append("\n".join(lines))
    print("\n".join(tables))
    print(f"\nmetrics JSON files in {folder}")


if __name__ == "__main__":
    main_()
