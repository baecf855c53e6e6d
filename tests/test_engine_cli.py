"""`python -m scimult_app` as a user runs it: info, embed, rank, exit codes and messages."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scimult_app.analysis.ranking import scores
from scimult_app.engine.embedder import Embedder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "SCIMULT_APP_CACHE": os.environ["SCIMULT_APP_CACHE"],
            "HF_HUB_OFFLINE": "1", "SCIMULT_DEBUG": ""}


@pytest.fixture(scope="module")
def fixture_args(fixture_dir):
    return ["--checkpoint", str(fixture_dir / "model.ckpt"), "--tokenizer", str(fixture_dir / "tokenizer")]


@pytest.fixture(scope="module")
def library(fixture_model):
    return Embedder(fixture_model, device="cpu", use_cache=False)


def cli(env, *args):
    done = subprocess.run([sys.executable, "-m", "scimult_app", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def test_info_on_fixture(env, fixture_args):
    done = cli(env, "info", *fixture_args)
    assert done.returncode == 0, done.stderr
    facts = dict(line.split(None, 1) for line in done.stdout.splitlines() if line.strip())
    assert facts["architecture"] == "MoE"
    assert facts["experts"] == "3"
    assert facts["expert_layers"] == "1, 3, 5"
    assert facts["expert_sublayers"] == "attention"
    assert facts["score"] == "dot product"
    assert "shared" in facts["encoders"]
    assert facts["moe_type"] == "mod2:attn"


def test_embed_jsonl(tmp_path, env, fixture_args, library):
    records = [
        {"id": "a", "text": "plain text record about sepsis"},
        {"id": "b", "title": "Graph networks", "abstract": "We learn molecule representations."},
        {"title": "Only a title"},
        {"id": "d", "title": "CRISPR screens", "abstract": "Genome-wide knockout in T cells."},
    ]
    source = write_jsonl(tmp_path / "docs.jsonl", records)
    output = tmp_path / "vectors.npy"
    done = cli(env, "embed", *fixture_args, "--expert", "link", "--side", "candidate",
               "--input", source, "--output", output, "--batch-size", "3")
    assert done.returncode == 0, done.stderr
    vectors = np.load(output)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 32)
    joined = ["plain text record about sepsis",
              "Graph networks [SEP] We learn molecule representations.",
              "Only a title",
              "CRISPR screens [SEP] Genome-wide knockout in T cells."]
    assert np.abs(vectors - library.encode(joined, "link", "candidate")).max() <= 1e-5
    # the other side or expert would give other vectors: the flags are honoured
    assert np.abs(vectors - library.encode(joined, "search", "candidate")).max() > 1e-3


def test_embed_csv(tmp_path, env, fixture_args, library):
    source = tmp_path / "docs.csv"
    rows = [("p1", "Sepsis in children", "Early antibiotics reduce mortality."),
            ("p2", "x", "y"),
            ("p3", "Protein folding", "AlphaFold predicts structures.")]
    with open(source, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "title", "abstract"])
        writer.writerows(rows)
    output = tmp_path / "csv.npy"
    done = cli(env, "embed", *fixture_args, "--expert", "classification", "--side", "query",
               "--input", source, "--output", output)
    assert done.returncode == 0, done.stderr
    expected = library.encode([f"{t} [SEP] {a}" for _, t, a in rows], "classification", "query")
    assert np.abs(np.load(output) - expected).max() <= 1e-5


def test_embed_plain_text(tmp_path, env, fixture_args, library):
    lines = ["first line about asthma", "", "second line, much longer " * 30, "third"]
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "txt.npy"
    done = cli(env, "embed", *fixture_args, "--expert", "search", "--side", "query",
               "--input", source, "--output", output, "--max-length", "16")
    assert done.returncode == 0, done.stderr
    expected = library.encode([line for line in lines if line], "search", "query", max_length=16)
    assert np.abs(np.load(output) - expected).max() <= 1e-5
    assert "1 truncated at 16 tokens" in done.stderr


def test_rank_with_minilm(tmp_path, env, minilm):
    corpus = [
        {"id": "p1", "title": "Sepsis in children", "abstract": "Early antibiotics reduce mortality."},
        {"id": "p2", "title": "Protein folding", "abstract": "Deep networks predict structures."},
        {"text": "Wetland birds decline with drought."},  # no id: line number 3
        {"id": "p4", "text": "Battery electrolytes based on perovskites."},
    ]
    queries = [
        {"text": "Protein folding [SEP] Deep networks predict structures."},  # id 1
        {"id": "q2", "text": "Wetland birds decline with drought."},
        {"text": "lithium battery chemistry"},  # id 3
    ]
    corpus_path = write_jsonl(tmp_path / "corpus.jsonl", corpus)
    queries_path = write_jsonl(tmp_path / "queries.jsonl", queries)
    output = tmp_path / "run.jsonl"
    done = cli(env, "rank", "--checkpoint", "minilm", "--expert", "search", "--queries", queries_path,
               "--corpus", corpus_path, "--top-k", "3", "--output", output)
    assert done.returncode == 0, done.stderr
    assert "single-expert" in done.stderr
    hits = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(hits) == 9
    assert all(set(hit) == {"query_id", "doc_id", "rank", "score"} for hit in hits)
    assert [hit["query_id"] for hit in hits] == ["1"] * 3 + ["q2"] * 3 + ["3"] * 3
    assert [hit["rank"] for hit in hits] == [1, 2, 3] * 3
    assert {hit["doc_id"] for hit in hits} <= {"p1", "p2", "3", "p4"}
    top = {hit["query_id"]: hit["doc_id"] for hit in hits if hit["rank"] == 1}
    assert top == {"1": "p2", "q2": "3", "3": "p4"}
    for query in ("1", "q2", "3"):
        values = [hit["score"] for hit in hits if hit["query_id"] == query]
        assert values == sorted(values, reverse=True)
    # scores are the library's cosine scores
    embedder = Embedder(minilm, device="cpu", use_cache=False)
    texts = [d.get("text") or f"{d['title']} [SEP] {d['abstract']}" for d in corpus]
    matrix = scores(embedder.encode([q["text"] for q in queries], "search", "query"),
                    embedder.encode(texts, "search", "candidate"), "cosine")
    ids = ["p1", "p2", "3", "p4"]
    for hit in hits:
        row = ["1", "q2", "3"].index(hit["query_id"])
        assert abs(hit["score"] - matrix[row, ids.index(hit["doc_id"])]) <= 1e-5
    assert abs(hits[0]["score"] - 1) <= 1e-5  # identical text, cosine 1


def test_rank_on_moe_has_no_single_expert_note(tmp_path, env, fixture_args):
    docs = write_jsonl(tmp_path / "docs.jsonl", [{"id": f"d{n}", "text": f"document {n}"} for n in range(5)])
    output = tmp_path / "run.jsonl"
    done = cli(env, "rank", *fixture_args, "--expert", "link", "--queries", docs, "--corpus", docs,
               "--top-k", "10", "--output", output)
    assert done.returncode == 0, done.stderr
    assert "single-expert" not in done.stderr
    hits = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(hits) == 25  # top-k capped at the corpus size
    assert [hit["rank"] for hit in hits[:5]] == [1, 2, 3, 4, 5]


def test_unknown_expert(tmp_path, env, fixture_args):
    source = write_jsonl(tmp_path / "docs.jsonl", [{"text": "a"}])
    done = cli(env, "embed", *fixture_args, "--expert", "summarise", "--side", "query",
               "--input", source, "--output", tmp_path / "o.npy")
    assert done.returncode == 2
    assert "summarise" in done.stderr and "search" in done.stderr
    assert not (tmp_path / "o.npy").exists()


def test_missing_input_file(tmp_path, env, fixture_args):
    missing = tmp_path / "nowhere.jsonl"
    done = cli(env, "embed", *fixture_args, "--expert", "search", "--side", "query",
               "--input", missing, "--output", tmp_path / "o.npy")
    assert done.returncode == 2
    assert str(missing) in done.stderr


def test_bad_jsonl_line(tmp_path, env, fixture_args):
    source = tmp_path / "corpus.jsonl"
    source.write_text('{"text": "fine"}\n{"text": broken\n{"text": "fine too"}\n')
    done = cli(env, "rank", *fixture_args, "--expert", "search", "--queries", source,
               "--corpus", source, "--output", tmp_path / "run.jsonl")
    assert done.returncode == 2
    assert f"{source}, line 2" in done.stderr and "JSON" in done.stderr


@pytest.mark.parametrize("content", [b"\x00\x01 definitely not a checkpoint" * 40, b""],
                         ids=["junk", "empty"])
def test_bad_checkpoint(tmp_path, env, fixture_dir, content):
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(content)
    done = cli(env, "info", "--checkpoint", checkpoint, "--tokenizer", fixture_dir / "tokenizer")
    assert done.returncode == 2
    assert str(checkpoint) in done.stderr and done.stderr.startswith("error:")
