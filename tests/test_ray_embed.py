"""`embed --engine ray`: Ray Data actors give the same vectors as the single-process path.

One local Ray session (2 actors) for the module: Ray's start-up is slow on a busy 2-core
machine, so everything that needs Ray shares it.
"""
import gzip
import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from scimult_app import cli  # noqa: E402
from scimult_app.corpus.stream import iter_documents  # noqa: E402
from scimult_app.engine.embedder import Embedder  # noqa: E402
from scimult_app.services.ray_embed import embed_with_ray, start_ray  # noqa: E402
from scimult_app.vectors.embed import embed_into  # noqa: E402
from scimult_app.vectors.store import VectorSet  # noqa: E402


@pytest.fixture(scope="module")
def ray_session():
    started, _ = start_ray(None)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """40 papers in three shards: JSONL, JSONL.gz and Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = tmp_path_factory.mktemp("shards")
    rows = [{"id": f"d{i}", "title": f"paper {i} on protein graphs",
             "abstract": "we study cells and genes " * (i % 6 + 1), "year": 2000 + i}
            for i in range(40)]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:15]))
    with gzip.open(folder / "b.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write("".join(json.dumps(r) + "\n" for r in rows[15:30]))
    pq.write_table(pa.Table.from_pylist(rows[30:]), folder / "c.parquet")
    return folder


def test_ray_vectors_equal_the_local_path(ray_session, shards, tmp_path, fixture_dir,
                                          fixture_model):
    checkpoint, tokenizer = str(fixture_dir / "model.ckpt"), str(fixture_dir / "tokenizer")
    distributed = embed_with_ray(shards, tmp_path / "ray", fixture_model, checkpoint, tokenizer,
                                 "search", "candidate", num_workers=2, batch_size=8,
                                 device="cpu", say=lambda line: None)
    local = VectorSet.create(tmp_path / "local", fixture_model.fingerprint, "search", "candidate")
    embed_into(local, Embedder(fixture_model, device="cpu", use_cache=False),
               iter_documents(shards))
    ids = local.ids()
    assert len(distributed) == 40 and sorted(distributed.ids()) == sorted(ids)
    difference = np.abs(distributed.vectors_for(ids) - local.vectors_for(ids)).max()
    assert difference <= 1e-5, difference

    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert (manifest["model_fingerprint"], manifest["expert"], manifest["side"],
            manifest["count"]) == (fixture_model.fingerprint, "search", "candidate", 40)
    import pyarrow.parquet as pq
    schema = pq.read_schema(next((tmp_path / "ray").glob("*.parquet")))
    assert str(schema.field("id").type) == "string"
    assert str(schema.field("vector").type) == "list<element: float>"

    # the Ray output is a vector set like any other: a rerun locally embeds nothing new,
    # `index` builds its faiss index and `rank` answers from it
    again = embed_into(VectorSet.open(tmp_path / "ray"),
                       Embedder(fixture_model, device="cpu", use_cache=False),
                       iter_documents(shards), compact=False)
    assert again.embedded == 0 and again.skipped == 40
    assert cli.main(["index", "--vectors", str(tmp_path / "ray"), "--sample", "10"]) == 0
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "q", "text": "protein graphs"}\n')
    assert cli.main(["rank", "--checkpoint", checkpoint, "--tokenizer", tokenizer,
                     "--expert", "search", "--queries", str(queries), "--corpus-vectors",
                     str(tmp_path / "ray"), "--search", "faiss", "--output",
                     str(tmp_path / "run.jsonl")]) == 0
    assert len((tmp_path / "run.jsonl").read_text().splitlines()) == 10


def test_ray_refuses_a_used_output_folder(ray_session, shards, tmp_path, fixture_model):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("x")
    from scimult_app.errors import ScimultError
    with pytest.raises(ScimultError, match="not an empty folder"):
        embed_with_ray(shards, tmp_path / "used", fixture_model, "x", None, "search",
                       "candidate")
