"""Big corpus files into the store as a streamed background job; the server-path switch."""
import gzip
import json

import pytest
from streamlit.testing.v1 import AppTest

from scimult_app.corpus.store import CorpusStore
from scimult_app.errors import InputError
from scimult_app.services import ingest_job


def write_jsonl_gz(path, start, count):
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for i in range(start, start + count):
            out.write(json.dumps({"id": f"g{i}", "title": f"Paper {i}",
                                  "abstract": f"Abstract of paper {i} about gene {i % 7}.",
                                  "year": 2000 + i % 25, "labels": ["genes"]}) + "\n")
    return path


def test_stream_ingest_replace_add_refuse(tmp_path):
    store = CorpusStore(tmp_path / "corpora")
    first = write_jsonl_gz(tmp_path / "first.jsonl.gz", 0, 3000)
    job = ingest_job.start_ingest(store, "Genes", first, total=3000)
    assert job.wait(120) and job.succeeded, job.error
    assert job.result == "Saved “Genes” (3,000 papers)." and job.done == 3000
    assert len(store.load("Genes")) == 3000
    assert store.info("Genes")["source"] == str(first)
    with pytest.raises(InputError, match="already exists"):
        ingest_job.ingest(store, "Genes", first)
    second = write_jsonl_gz(tmp_path / "second.jsonl.gz", 2500, 1000)  # 500 known, 500 new
    assert ingest_job.ingest(store, "Genes", second, mode="add") == 3500
    ids = [doc.id for doc in store.load("Genes")]
    assert ids[:3000] == [f"g{i}" for i in range(3000)] and ids[-1] == "g3499"
    assert ingest_job.ingest(store, "Genes", second, mode="replace") == 1000
    assert [d.id for d in ingest_job.preview(second, 5)] == [f"g{i}" for i in range(2500, 2505)]


def test_server_paths_can_be_switched_off(monkeypatch, tmp_path):
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "0")
    assert not ingest_job.paths_allowed()
    with pytest.raises(InputError, match="switched off"):
        ingest_job.checked_server_path(str(tmp_path))
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "1")
    assert ingest_job.checked_server_path(f" {tmp_path} ") == tmp_path
    assert ingest_job.is_big_format("a.JSONL.gz") and not ingest_job.is_big_format("a.csv")


def test_corpora_page_saves_a_big_file_by_server_path(tmp_path):
    source = write_jsonl_gz(tmp_path / "big.jsonl.gz", 0, 1200)
    at = AppTest.from_file("../app.py", default_timeout=240)
    at.run()
    at.switch_page("views/corpora.py")
    at.run()
    at.radio(key="corpus_from").set_value("Server path").run()
    at.text_input(key="corpus_path").input(str(source)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("1,200 papers in big.jsonl.gz" in c.value for c in at.caption)
    at.text_input(key="big_corpus_name").input("Big genes").run()
    at.button(key="big_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = ingest_job.JOBS.get(f"{ingest_job.PREFIX}Big genes")
    assert job is not None and job.wait(120) and job.succeeded, job and job.error
    at.run()
    assert any("Saved “Big genes” (1,200 papers)" in s.value for s in at.success)
    assert len(CorpusStore().load("Big genes")) == 1200
    assert at.session_state["corpus_name"] == "Big genes"


def test_path_input_hidden_when_switched_off(monkeypatch):
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "0")
    at = AppTest.from_file("../app.py", default_timeout=240)
    at.run()
    at.switch_page("views/corpora.py")
    at.run()
    assert "Server path" not in at.radio(key="corpus_from").options
