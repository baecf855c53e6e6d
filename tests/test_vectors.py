"""Vector sets on disk: incremental and resumable embedding, chunked top-k, the faiss index."""
import gzip
import json

import numpy as np
import pytest

from scimult_app.analysis.ranking import scores, top_k, top_k_chunked
from scimult_app.corpus.documents import Document
from scimult_app.corpus.stream import count_rows, iter_document_batches, iter_documents
from scimult_app.engine.embedder import Embedder
from scimult_app.errors import InputError, ScimultError
from scimult_app.vectors.embed import embed_into
from scimult_app.vectors.index import build_index, load_index, recall_at_k
from scimult_app.vectors.search import search
from scimult_app.vectors.store import VectorSet, open_vector_set

WORDS = ("protein graph neural retrieval citation patient cohort gene expression transformer "
         "contrastive embedding sparse dense clinical trial imaging segmentation").split()


def papers(n, start=0, seed=0):
    rng = np.random.default_rng(seed + start)
    return [Document(id=f"p{i}", title=" ".join(rng.choice(WORDS, 4)),
                     abstract=" ".join(rng.choice(WORDS, int(rng.integers(8, 30)))))
            for i in range(start, start + n)]


class CountingEmbedder(Embedder):
    """The real embedder, counting the texts it is asked to encode."""

    texts = 0

    def embed(self, texts, *args, **kwargs):
        self.texts += len(texts)
        return super().embed(texts, *args, **kwargs)


@pytest.fixture
def embedder(fixture_model):
    return CountingEmbedder(fixture_model, device="cpu", batch_size=8, use_cache=False)


def new_set(tmp_path, loaded, name="set"):
    return VectorSet.create(tmp_path / name, loaded.fingerprint, "search", "candidate")


def test_incremental_embeds_only_new_and_edited(tmp_path, embedder, fixture_model):
    vector_set = new_set(tmp_path, fixture_model)
    first = papers(30)
    report = embed_into(vector_set, embedder, first, "search", "candidate", chunk_size=8)
    assert (report.embedded, report.skipped, embedder.texts) == (30, 0, 30)
    reopened = VectorSet.open(vector_set.folder)
    assert len(reopened) == 30 and reopened.ids() == [d.id for d in first]
    assert isinstance(reopened.vectors(), np.memmap)  # compacted to one memory-mapped file

    embedder.texts = 0
    edited = Document(id="p3", title="an edited title", abstract="and a new abstract")
    more = first[:3] + [edited] + first[4:] + papers(5, start=30)
    report = embed_into(reopened, embedder, more, chunk_size=8)
    assert (report.embedded, report.skipped, embedder.texts) == (6, 29, 6)
    final = VectorSet.open(vector_set.folder)
    assert len(final) == 35
    expected = embedder.encode([d.model_input() for d in more], "search", "candidate")
    np.testing.assert_allclose(final.vectors_for([d.id for d in more]), expected, atol=1e-5)


def test_cancelled_embedding_resumes_with_identical_vectors(tmp_path, embedder, fixture_model):
    documents = papers(40)
    whole = new_set(tmp_path, fixture_model, "whole")
    embed_into(whole, embedder, documents, chunk_size=8)

    class Cancelled(Exception):
        pass

    def cancel_midway(done, total, message):
        if done >= 20:
            raise Cancelled  # what jobs.Job.report raises when the user cancels

    interrupted = new_set(tmp_path, fixture_model, "interrupted")
    with pytest.raises(Cancelled):
        embed_into(interrupted, embedder, documents, progress=cancel_midway, chunk_size=8)
    kept = len(VectorSet.open(interrupted.folder))
    assert 0 < kept < 40 and kept % 8 == 0  # whole chunks were saved

    embedder.texts = 0
    resumed = VectorSet.open(interrupted.folder)
    report = embed_into(resumed, embedder, documents, chunk_size=8)
    assert report.skipped == kept and embedder.texts == 40 - kept
    final = VectorSet.open(interrupted.folder)
    assert final.ids() == whole.ids()
    np.testing.assert_array_equal(final.vectors(), VectorSet.open(whole.folder).vectors())


def test_should_stop_keeps_finished_chunks(tmp_path, embedder, fixture_model):
    vector_set = new_set(tmp_path, fixture_model)
    calls = []
    report = embed_into(vector_set, embedder, papers(20), chunk_size=5,
                        should_stop=lambda: len(calls.append(1) or calls) > 2)
    assert report.stopped and report.embedded == 10
    assert len(VectorSet.open(vector_set.folder)) == 10


def test_a_set_refuses_another_model_or_expert(tmp_path, embedder, fixture_model):
    vector_set = new_set(tmp_path, fixture_model)
    with pytest.raises(ScimultError, match="expert"):
        embed_into(vector_set, embedder, papers(2), expert="link")
    with pytest.raises(ScimultError, match="fingerprint"):
        VectorSet.create(vector_set.folder, "another-model", "search", "candidate")
    with pytest.raises(ScimultError, match="no vector set"):
        VectorSet.open(tmp_path / "nothing")


def test_open_vector_set_keys_by_corpus_and_model(tmp_path):
    a = open_vector_set("My corpus", "f" * 64, "search", "candidate", root=tmp_path)
    b = open_vector_set("My corpus", "f" * 64, "link", "candidate", root=tmp_path)
    assert a.folder != b.folder and a.folder.parent == b.folder.parent
    a.append(["x", "y"], ["h1", "h2"], np.ones((2, 4), np.float32))
    assert open_vector_set("My corpus", "f" * 64, "search", "candidate", root=tmp_path).ids() == ["x", "y"]


@pytest.mark.parametrize("score_function", ["dot", "cosine"])
def test_chunked_top_k_equals_full_sort(score_function):
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(23, 12)).astype(np.float32)
    candidates = rng.normal(size=(1000, 12)).astype(np.float32)
    full = scores(queries, candidates, score_function)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
    indices, values = top_k_chunked(queries, candidates, 10, score_function,
                                    query_chunk=5, candidate_chunk=128)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(values, np.take_along_axis(full, expected, 1), atol=1e-5)
    exclude = [i % 3 and i for i in range(23)]
    exclude = [None if e == 0 else e for e in exclude]
    np.testing.assert_array_equal(
        top_k_chunked(queries, candidates, 7, score_function, exclude, 4, 100)[0],
        top_k(full, 7, exclude)[0])


def test_chunked_top_k_ties_and_small_sets():
    candidates = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)  # many equal scores
    query = np.array([[1.0, 0.0, 0.0]], np.float32)
    indices, _ = top_k_chunked(query, candidates, 6, candidate_chunk=5)
    np.testing.assert_array_equal(indices, top_k(scores(query, candidates), 6)[0])
    assert top_k_chunked(query, candidates[:2], 10)[0].shape == (1, 2)
    assert top_k_chunked(query, candidates[:0], 10)[0].shape == (1, 0)


def test_faiss_recall_and_search(tmp_path):
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vector_set = VectorSet.create(tmp_path / "random", "r" * 64, "search", "candidate")
    vector_set.append([f"r{i}" for i in range(3000)], [""] * 3000, vectors)
    build_index(vector_set, "cosine")
    index = load_index(vector_set, "cosine")
    recall = recall_at_k(vector_set, index, "cosine", k=10, sample=200)
    print(f"faiss HNSW recall@10 on 3000 random 32-d unit vectors: {recall:.3f}")
    assert recall >= 0.9
    result = search(vector_set, vectors[:3], 5, "cosine", method="faiss")
    assert result.method == "faiss-hnsw" and [row[0] for row in result.ids] == ["r0", "r1", "r2"]
    exact = search(vector_set, vectors[:3], 5, "cosine", method="exact")
    assert exact.method == "exact" and [row[0] for row in exact.ids] == ["r0", "r1", "r2"]
    vector_set.append(["new"], [""], vectors[:1])
    assert load_index(vector_set, "cosine") is None  # stale after a change


def test_streaming_readers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows = [{"id": f"d{i}", "title": f"title {i}", "abstract": f"abstract {i}", "year": 2020}
            for i in range(25)]
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(json.dumps(row) for row in rows[:10]) + "\n\n")
    pq.write_table(pa.Table.from_pylist(rows[10:]), tmp_path / "b.parquet", row_group_size=4)
    batches = list(iter_document_batches(tmp_path, batch_rows=6))
    assert [len(b) for b in batches] == [6, 6, 6, 6, 1]
    documents = list(iter_documents(tmp_path))
    assert [d.id for d in documents] == [r["id"] for r in rows]
    assert documents[12].model_input() == "title 12 [SEP] abstract 12" and documents[0].year == 2020
    assert count_rows(tmp_path) == 25
    (tmp_path / "c.jsonl").write_text('{"id": "d1", "text": "again"}\n')
    with pytest.raises(InputError, match="appears twice"):
        list(iter_documents(tmp_path))
    (tmp_path / "c.jsonl").write_text('{"id": "z", "text": "fine"}\nnot json\n')
    with pytest.raises(InputError, match="c.jsonl, line 2"):
        list(iter_documents(tmp_path / "c.jsonl"))
    with pytest.raises(InputError, match="no such file"):
        list(iter_documents(tmp_path / "missing.jsonl"))
