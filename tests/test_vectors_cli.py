"""The CLI over vector sets: `embed --output FOLDER` (incremental), `rank --corpus-vectors`,
`index` (faiss, recall printed); run in-process through `cli.main`."""
import json

import numpy as np
import pytest

from scimult_app import cli
from scimult_app.engine.embedder import Embedder
from scimult_app.vectors.store import VectorSet


@pytest.fixture(scope="module")
def model_args(fixture_dir):
    return ["--checkpoint", str(fixture_dir / "model.ckpt"), "--tokenizer",
            str(fixture_dir / "tokenizer")]


def write_corpus(path, start, stop):
    with open(path, "a", encoding="utf-8") as out:
        for i in range(start, stop):
            out.write(json.dumps({"id": f"d{i}", "title": f"paper {i} on protein graphs",
                                  "abstract": "cells and genes " * (i % 5 + 1)}) + "\n")
    return path


def test_embed_folder_is_incremental_then_rank_and_index(tmp_path, model_args, fixture_model,
                                                          capsys):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 0, 20)
    folder = tmp_path / "vectors"
    embed = ["embed", *model_args, "--expert", "search", "--side", "candidate",
             "--input", str(corpus), "--output", str(folder), "--chunk-size", "8"]
    assert cli.main(embed) == 0
    assert "20 embedded, 0 already there" in capsys.readouterr().err
    write_corpus(corpus, 20, 23)
    assert cli.main(embed) == 0
    assert "3 embedded, 20 already there" in capsys.readouterr().err

    vector_set = VectorSet.open(folder)
    assert len(vector_set) == 23 and vector_set.score_function == fixture_model.score_function
    library = Embedder(fixture_model, device="cpu", use_cache=False)
    texts = [f"paper {i} on protein graphs [SEP] " + ("cells and genes " * (i % 5 + 1)).strip()
             for i in range(23)]
    np.testing.assert_allclose(vector_set.vectors_for([f"d{i}" for i in range(23)]),
                               library.encode(texts, "search", "candidate"), atol=1e-5)

    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"id": "q1", "text": "protein graphs"}) + "\n")
    run = tmp_path / "run.jsonl"
    assert cli.main(["rank", *model_args, "--expert", "search", "--queries", str(queries),
                     "--corpus-vectors", str(folder), "--top-k", "5", "--output", str(run)]) == 0
    from_vectors = [json.loads(line) for line in run.read_text().splitlines()]
    assert "exact search" in capsys.readouterr().err
    assert cli.main(["rank", *model_args, "--expert", "search", "--queries", str(queries),
                     "--corpus", str(corpus), "--top-k", "5", "--output", str(run)]) == 0
    from_corpus = [json.loads(line) for line in run.read_text().splitlines()]
    assert [h["doc_id"] for h in from_vectors] == [h["doc_id"] for h in from_corpus]
    assert len(from_vectors) == 5

    assert cli.main(["index", "--vectors", str(folder), "--sample", "10"]) == 0
    out = capsys.readouterr().out
    assert "recall@10" in out and (folder / f"index-{fixture_model.score_function}.faiss").is_file()


def test_vector_cli_errors(tmp_path, model_args, capsys):
    assert cli.main(["index", "--vectors", str(tmp_path / "none")]) == cli.BAD_INPUT
    assert "no vector set here" in capsys.readouterr().err
    assert cli.main(["embed", *model_args, "--expert", "search", "--side", "candidate",
                     "--input", str(tmp_path / "missing.jsonl"), "--output",
                     str(tmp_path / "out")]) == cli.BAD_INPUT
    assert "no such file" in capsys.readouterr().err
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"text": "x"}\n')
    assert cli.main(["rank", *model_args, "--expert", "search", "--queries", str(queries),
                     "--output", str(tmp_path / "run.jsonl")]) == cli.BAD_INPUT
    assert "--corpus-vectors" in capsys.readouterr().err
