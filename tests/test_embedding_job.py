"""The embedding job: fills a corpus's vector set in the background, cancels, resumes."""
import json
import threading

import numpy as np
import pytest

from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import CorpusStore
from scimult_app.engine.embedder import Embedder
from scimult_app.services import embedding_job, set_check
from scimult_app.services.embedding_job import (
    EmbedProgress,
    corpus_vectors_status,
    format_duration,
    job_line,
    pending_markers,
    resume_pending,
    start_embedding,
)
from scimult_app.services.jobs import JOBS
from scimult_app.vectors.store import content_hash

WORDS = ("protein graph neural retrieval citation patient cohort gene expression transformer "
         "contrastive embedding sparse dense clinical trial imaging segmentation").split()
SOURCE = ("fixture.ckpt", "fixture-tokenizer")


def papers(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Document(id=f"p{i}", title=" ".join(rng.choice(WORDS, 3)),
                     abstract=" ".join(rng.choice(WORDS, int(rng.integers(5, 15)))))
            for i in range(n)]


@pytest.fixture
def store(tmp_path):
    return CorpusStore(tmp_path / "corpora")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(embedding_job, "CHUNK", 8)


def direct(loaded, docs, expert="search", side="candidate"):
    return Embedder(loaded, device="cpu", use_cache=False).encode(
        [d.model_input() for d in docs], expert, side)


def forget(vector_root):
    for key in list(JOBS._jobs):
        if key.startswith(embedding_job.PREFIX + str(vector_root)):
            JOBS.forget(key)


def test_job_fills_the_set_and_pages_get_the_vectors(tmp_path, store, fixture_model):
    docs = papers(40)
    store.save("Forty", docs)
    root = tmp_path / "vectors"
    first = corpus_vectors_status(store, "Forty", store.load("Forty"), fixture_model, "search",
                                  model_source=SOURCE, root=root)
    assert not first.ready and first.missing == 40 and first.job is not None
    assert "Forty" in first.waiting_message()
    assert first.job.wait(120) and first.job.succeeded, first.job.error
    assert "done" in job_line(first.job)
    assert pending_markers(root) == []  # finished: nothing to resume
    ready = corpus_vectors_status(store, "Forty", store.load("Forty"), fixture_model, "search",
                                  root=root)
    assert ready.ready and ready.missing == 0
    np.testing.assert_allclose(ready.vectors, direct(fixture_model, docs), atol=1e-5)
    # a renamed corpus keeps its vectors (the key is the file stem, not the name)
    store.rename("Forty", "Forty papers")
    again = corpus_vectors_status(store, "Forty papers", store.load("Forty papers"),
                                  fixture_model, "search", auto_start=False, root=root)
    assert again.ready
    forget(root)


def test_cancelled_job_resumes_with_the_same_vectors(tmp_path, store, fixture_model):
    docs = papers(48, seed=1)
    store.save("Resume me", docs)
    root = tmp_path / "vectors"
    gate = threading.Event()
    original = embedding_job.embed_into

    def slow_embed_into(*args, progress=None, **kwargs):
        def report(done, total, message):
            progress(done, total, message)
            if done >= 16:  # the first chunk of 8 is written by now
                gate.set()
        return original(*args, progress=report, **kwargs)

    embedding_job.embed_into = slow_embed_into
    try:
        job = start_embedding(store, "Resume me", fixture_model, "link", "candidate", SOURCE, root)
        assert gate.wait(120)
        embedding_job.cancel(job)
        assert job.wait(120)
    finally:
        embedding_job.embed_into = original
    assert job.error == "cancelled"
    assert "cancelled" in job_line(job)
    status = corpus_vectors_status(store, "Resume me", docs, fixture_model, "link", root=root)
    assert not status.ready and status.job is job  # a cancelled job is not restarted by itself
    assert "cancelled" in status.waiting_message()
    assert status.missing <= 40  # what was written before the cancel is kept
    resumed = start_embedding(store, "Resume me", fixture_model, "link", "candidate", SOURCE, root)
    assert resumed is not job and resumed.wait(120) and resumed.succeeded, resumed.error
    done = corpus_vectors_status(store, "Resume me", docs, fixture_model, "link", root=root)
    assert done.ready
    np.testing.assert_allclose(done.vectors, direct(fixture_model, docs, "link"), atol=1e-5)
    forget(root)


def test_restart_resumes_pending_jobs_of_the_same_model(tmp_path, store, fixture_model):
    docs = papers(20, seed=2)
    store.save("Pending", docs)
    root = tmp_path / "vectors"
    vector_set = embedding_job.open_set(store, "Pending", fixture_model, "search", "candidate",
                                        root)
    marker = vector_set.folder / embedding_job.MARKER
    marker.write_text(json.dumps({"corpus_key": store.key("Pending"), "corpus": "Pending",
                                  "model": SOURCE[0], "tokenizer": SOURCE[1], "expert": "search",
                                  "side": "candidate"}))
    assert [folder for folder, _ in pending_markers(root)] == [vector_set.folder]
    assert resume_pending(store, fixture_model, ("other.ckpt", None), root) == []
    jobs = resume_pending(store, fixture_model, SOURCE, root)
    assert len(jobs) == 1 and jobs[0].wait(120) and jobs[0].succeeded, jobs[0].error
    assert not marker.exists()
    assert corpus_vectors_status(store, "Pending", docs, fixture_model, "search",
                                 auto_start=False, root=root).ready
    forget(root)


def test_progress_line_reports_rate_and_time_left(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(embedding_job.time, "time", lambda: clock[0])
    progress = EmbedProgress("Big", "search", "candidate")
    assert progress.line().startswith("Waiting to embed")
    progress.update(2000, 10_000, "0 embedded, 2000 already there")  # skipped: no rate yet
    progress.update(2100, 10_000, "100 embedded, 2000 already there")
    clock[0] += 100
    progress.update(4100, 10_000, "2100 embedded, 2000 already there")
    assert progress.rate == pytest.approx(20.0)
    assert progress.seconds_left() == pytest.approx(295.0)
    assert progress.line() == ("Embedding 4,100 / 10,000 papers of “Big” (search expert, "
                               "candidate side), 20.0 papers/s, 5 min left")
    assert [format_duration(s) for s in (42, 360, 7500)] == ["42 s", "6 min", "2 h 05 min"]


def test_streamed_save_of_many_papers_and_refusals(store):
    def batches():
        for start in range(0, 5000, 1000):
            yield [Document(id=f"d{i}", title=f"Paper {i}", abstract="words " * 20)
                   for i in range(start, start + 1000)]
    seen = []
    assert store.save_stream("Five thousand", batches(), source="path", progress=seen.append) == 5000
    assert seen == [1000, 2000, 3000, 4000, 5000]
    assert len(store.load("Five thousand")) == 5000
    assert store.info("Five thousand")["count"] == 5000

    def repeated():
        yield [Document(id="d1", title="x")]
        yield [Document(id="d1", title="y")]
    with pytest.raises(Exception, match="appears twice"):
        store.save_stream("Five thousand", repeated(), overwrite=True)
    assert len(store.load("Five thousand")) == 5000  # a failed save leaves it as it was
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_complete_set_is_remembered_until_the_corpus_or_the_set_changes(tmp_path, store,
                                                                          fixture_model):
    docs = papers(30, seed=3)
    store.save("Checked", docs)
    root = tmp_path / "vectors"
    cut = min(fixture_model.max_length, fixture_model.config.max_positions)
    vector_set = embedding_job.open_set(store, "Checked", fixture_model, "search", "candidate",
                                        root)
    vector_set.append([d.id for d in docs], [content_hash(d.model_input(), cut) for d in docs],
                      np.eye(30, 8, dtype=np.float32))

    def status(papers_now):
        embedding_job.forget()  # as after a server restart
        return corpus_vectors_status(store, "Checked", papers_now, fixture_model, "search",
                                     auto_start=False, root=root)

    record = vector_set.folder / set_check.RECORD
    assert not record.exists()
    assert status(store.load("Checked")).ready and record.exists()
    # the record answers for the same corpus state and set: the texts are not hashed again
    # (these edited texts, passed as if they were the stored ones, would all be missing)
    edited = [Document(id=d.id, title="edited " + d.title, abstract=d.abstract) for d in docs]
    assert status(edited).ready
    # the corpus changes: checked again, nothing recorded for the edited corpus
    store.save("Checked", edited, overwrite=True)
    again = status(store.load("Checked"))
    assert not again.ready and again.missing == 30
    store.save("Checked", docs, overwrite=True)
    assert status(store.load("Checked")).ready
    # the set changes (a newer row for one paper, another text): checked again
    vector_set = embedding_job.open_set(store, "Checked", fixture_model, "search", "candidate",
                                        root)
    vector_set.append(["p0"], ["0" * 16], np.ones((1, 8), dtype=np.float32))
    changed = status(store.load("Checked"))
    assert not changed.ready and changed.missing == 1
    # a damaged record is no record
    vector_set.append(["p0"], [content_hash(docs[0].model_input(), cut)],
                      np.ones((1, 8), dtype=np.float32))
    assert status(store.load("Checked")).ready
    record.write_text("{not json", encoding="utf-8")
    assert not status(edited).ready
