"""`python -m scimult_app evaluate` end to end on the tiny fixture model: TREC topics and TREC
qrels in, metrics JSON, per-query CSV and TREC run files out; bad judgments exit 2."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scimult_app.corpus import demo

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SYSTEMS = ["search", "link", "classification", "bm25", "rrf:bm25+search"]


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "SCIMULT_DEBUG": ""}


def cli(env, *args):
    done = subprocess.run([sys.executable, "-m", "scimult_app", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def judged_files(tmp_path_factory):
    """Twelve demo queries as TREC topics, their judgments as TREC qrels (plus an unknown
    paper and a judged query missing from the topics), and a 40-paper corpus."""
    folder = tmp_path_factory.mktemp("judged")
    queries = demo.queries()[:12]
    papers = demo.papers()[:40]
    topics = "".join(f"<top>\n<num> Number: {q['id']}\n<title> {q['text']}\n</top>\n\n"
                     for q in queries)
    (folder / "topics.txt").write_text(topics)
    lines = [f"{q['id']} 0 {doc} 1" for q in queries for doc in q["relevant"]]
    lines += [f"{queries[0]['id']} 0 no-such-paper 1", "q-elsewhere 0 card-001 1"]
    (folder / "qrels.txt").write_text("\n".join(lines) + "\n")
    with open(folder / "papers.jsonl", "w") as out:
        for p in papers:
            out.write(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n")
    return folder


def test_evaluate_end_to_end(env, fixture_dir, judged_files, tmp_path):
    folder = judged_files
    output, table, runs = tmp_path / "metrics.json", tmp_path / "per_query.csv", tmp_path / "runs"
    done = cli(env, "evaluate", "--checkpoint", fixture_dir / "model.ckpt",
               "--tokenizer", fixture_dir / "tokenizer", "--queries", folder / "topics.txt",
               "--qrels", folder / "qrels.txt", "--corpus", folder / "papers.jsonl",
               "--output", output, "--per-query-csv", table, "--runs", runs,
               "--trials", 500, "--no-cache")
    assert done.returncode == 0, done.stderr
    result = json.loads(output.read_text())
    assert list(result["systems"]) == DEFAULT_SYSTEMS
    queries = result["queries"]
    assert queries == 12  # every topic has a judgment, even if only of papers outside the corpus
    for values in result["systems"].values():
        assert set(values) == {"ndcg@10", "mrr", "recall@100", "p@10", "per_query"}
        assert len(values["per_query"]) == queries
        for metric in ("ndcg@10", "mrr", "recall@100", "p@10"):
            assert 0.0 <= values[metric] <= 1.0
            mean = sum(v[metric] for v in values["per_query"].values()) / queries
            assert values[metric] == pytest.approx(mean)
    problems = result["problems"]
    assert problems["unknown_queries"] == ["q-elsewhere"]
    assert "no-such-paper" in problems["unknown_documents"]["q-c01"]
    assert "no-such-paper" in done.stderr and "q-elsewhere" in done.stderr
    assert "paired randomization test" in done.stderr
    for name in DEFAULT_SYSTEMS:
        assert name in done.stdout  # the printed table
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * queries and {r["system"] for r in rows} == set(DEFAULT_SYSTEMS)
    trec = (runs / "rrf_bm25+search.trec").read_text().splitlines()
    qid, q0, doc, rank, score, tag = trec[0].split()
    assert (q0, rank, tag) == ("Q0", "1", "rrf_bm25+search")
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        ["search.trec", "link.trec", "classification.trec", "bm25.trec", "rrf_bm25+search.trec"])


def test_evaluate_bm25_alone_needs_no_model_and_reads_relevant_lists(env, tmp_path):
    output = tmp_path / "bm25.json"
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in demo.queries()[:20]))
    done = cli(env, "evaluate", "--checkpoint", "no-model-needed", "--queries", queries,
               "--corpus", ROOT / "data" / "papers.jsonl", "--systems", "bm25",
               "--output", output)
    assert done.returncode == 0, done.stderr
    result = json.loads(output.read_text())
    assert list(result["systems"]) == ["bm25"] and result["queries"] == 20
    assert result["systems"]["bm25"]["mrr"] > 0.5


def test_evaluate_bad_judgments_name_file_and_line(env, judged_files, tmp_path):
    folder = judged_files
    bad = tmp_path / "bad_qrels.tsv"
    bad.write_text("query-id\tcorpus-id\tscore\nq-c01\tcard-003\t1\nq-c02\tcard-007\tyes\n")
    done = cli(env, "evaluate", "--checkpoint", "minilm", "--queries", folder / "topics.txt",
               "--qrels", bad, "--corpus", folder / "papers.jsonl", "--systems", "bm25",
               "--output", tmp_path / "m.json")
    assert done.returncode == 2
    assert f"{bad}, line 3" in done.stderr and "not a whole number" in done.stderr
    done = cli(env, "evaluate", "--queries", folder / "topics.txt", "--qrels", folder / "qrels.txt",
               "--corpus", folder / "papers.jsonl", "--systems", "dense",
               "--output", tmp_path / "m.json")
    assert done.returncode == 2 and "unknown system 'dense'" in done.stderr
