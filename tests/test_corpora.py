"""Corpora on disk: round trips, restarts, rename, delete, refused and failed saves, demo data."""
import json

import pytest

from scimult_app import paths
from scimult_app.corpus import demo
from scimult_app.corpus import store as corpora
from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import DEMO_CORPUS, CorpusStore
from scimult_app.errors import InputError, ScimultError


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def data_dir(tmp_path):
    """A small stand-in for the repository's data/ folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "papers.jsonl", [
        {"id": "card-001", "title": "Heart failure", "abstract": "Diuretics help.", "year": 2010,
         "kind": "review", "labels": ["cardiology", "heart-failure"], "cites": []},
        {"id": "card-002", "title": "Atrial fibrillation", "abstract": "Ablation works.",
         "year": 2015, "kind": "research", "labels": ["cardiology", "arrhythmia"],
         "cites": ["card-001"]}])
    write_jsonl(folder / "patients.jsonl", [
        {"id": "pat-01", "age": 67, "sex": "F", "text": "Breathless on exertion.",
         "relevant_articles": ["card-001"], "similar_patients": []}])
    write_jsonl(folder / "queries.jsonl", [
        {"id": "q-c01", "text": "treating heart failure", "relevant": ["card-001"]}])
    write_jsonl(folder / "labels_fields.jsonl", [
        {"label": "cardiology", "name": "Cardiology", "definition": "The heart."}])
    return folder


@pytest.fixture
def store(tmp_path, data_dir):
    return CorpusStore(tmp_path / "corpora", data_dir=data_dir)


DOCS = [
    Document(id="a", title="Coral reefs", abstract="Warm water stresses corals.", year=2019,
             labels=["ecology", "oceans"], extra={"source_file": "x.csv", "cites": ["b"]}),
    Document(id="b", text="  A plain text document, kept exactly.  ", year=None),
    Document(id="c", title="Café networks ☕", abstract="Unicode survives."),
]


def files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# ------------------------------------------------------------------ round trips

def test_save_load_round_trip_and_restart(store, tmp_path, data_dir):
    store.save("Reef papers", DOCS, source="upload: reefs.csv")
    assert store.load("Reef papers") == DOCS
    info = store.info("Reef papers")
    assert info["name"] == "Reef papers" and info["count"] == 3
    assert info["source"] == "upload: reefs.csv" and info["created"]
    restarted = CorpusStore(tmp_path / "corpora", data_dir=data_dir)
    assert restarted.names() == [DEMO_CORPUS, "Reef papers"]
    assert restarted.load("Reef papers") == DOCS


def test_names_are_sorted_with_demo_first_and_files_are_safe(store):
    for name in ("zebra", "Alpha", "../../etc/passwd", "Médecine 2024"):
        store.save(name, DOCS[:1])
    assert store.names() == [DEMO_CORPUS, "../../etc/passwd", "Alpha", "Médecine 2024", "zebra"]
    for path in store.root.iterdir():
        assert path.parent == store.root
        assert all(c.isalnum() or c in "-." for c in path.name)
    assert store.load("../../etc/passwd") == DOCS[:1]


def test_default_root_is_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SCIMULT_APP_CACHE", str(tmp_path / "cache"))
    store = CorpusStore()
    assert store.root == tmp_path / "cache" / "corpora"
    store.save("Mine", DOCS)
    assert CorpusStore().load("Mine") == DOCS


# ------------------------------------------------------------------ refused and failed saves

def test_existing_corpus_needs_overwrite(store):
    store.save("Reefs", DOCS)
    with pytest.raises(InputError, match="already exists"):
        store.save("Reefs", DOCS[:1])
    assert store.load("Reefs") == DOCS
    store.save("Reefs", DOCS[:1], overwrite=True)
    assert store.load("Reefs") == DOCS[:1]
    assert store.info("Reefs")["count"] == 1
    assert store.names().count("Reefs") == 1


def test_refused_saves_leave_the_existing_corpus_intact(store):
    store.save("Reefs", DOCS)
    before = files(store.root)
    with pytest.raises(InputError, match="no documents to save"):
        store.save("Reefs", [], overwrite=True)
    with pytest.raises(InputError, match="appears twice"):
        store.save("Reefs", [DOCS[0], DOCS[0]], overwrite=True)
    with pytest.raises(InputError, match="Give the corpus a name"):
        store.save("   ", DOCS)
    with pytest.raises(InputError, match="the limit is 80"):
        store.save("x" * 81, DOCS)
    assert files(store.root) == before
    assert store.load("Reefs") == DOCS


def test_a_write_that_fails_midway_leaves_the_corpus_intact(store, monkeypatch):
    store.save("Reefs", DOCS)
    before = files(store.root)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(paths.os, "replace", disk_full)
    with pytest.raises(OSError):
        store.save("Reefs", DOCS[:1], overwrite=True)
    monkeypatch.undo()
    assert files(store.root) == before  # no half-written or temporary files either
    assert store.load("Reefs") == DOCS


# ------------------------------------------------------------------ add, rename, delete

def test_add_appends_new_ids_only(store):
    store.save("Reefs", DOCS[:2], source="first upload")
    extra = [Document(id="b", title="Duplicate id"), Document(id="d", title="New one"),
             Document(id="d", title="Repeated in the batch")]
    assert store.add("Reefs", extra) == 1
    loaded = store.load("Reefs")
    assert [d.id for d in loaded] == ["a", "b", "d"]
    assert loaded[1] == DOCS[1] and loaded[2].title == "New one"
    info = store.info("Reefs")
    assert info["count"] == 3 and info["source"] == "first upload" and "updated" in info
    assert store.add("Reefs", DOCS[:1]) == 0
    with pytest.raises(InputError, match="no corpus called “Nope”"):
        store.add("Nope", DOCS)


def test_rename_keeps_documents_and_frees_the_old_name(store, tmp_path, data_dir):
    store.save("Old name", DOCS)
    store.save("Taken", DOCS[:1])
    with pytest.raises(InputError, match="already exists"):
        store.rename("Old name", "Taken")
    store.rename("Old name", "New name")
    assert store.names() == [DEMO_CORPUS, "New name", "Taken"]
    assert store.load("New name") == DOCS
    with pytest.raises(InputError, match="no corpus called “Old name”"):
        store.load("Old name")
    store.save("Old name", DOCS[2:])  # reuses the old name; must not clobber the renamed one
    restarted = CorpusStore(store.root, data_dir=data_dir)
    assert restarted.load("New name") == DOCS
    assert restarted.load("Old name") == DOCS[2:]


def test_delete_removes_files_and_name(store):
    store.save("Reefs", DOCS)
    store.save("Keep", DOCS[:1])
    store.delete("Reefs")
    assert store.names() == [DEMO_CORPUS, "Keep"]
    with pytest.raises(InputError, match="no corpus called “Reefs”"):
        store.load("Reefs")
    stem = store.key("Keep")  # Keep's data, its column copy and meta only
    assert sorted(p.name for p in store.root.iterdir()) == [
        f"{stem}.jsonl", f"{stem}.meta.json", f"{stem}.parquet"]
    with pytest.raises(InputError):
        store.delete("Reefs")


def test_damaged_files_hide_or_name_only_their_corpus(store):
    store.save("Good", DOCS)
    store.save("Broken data", DOCS)
    store.save("Broken meta", DOCS)
    metas = {json.loads(p.read_text())["name"]: p for p in store.root.glob("*.meta.json")}
    metas["Broken meta"].write_text("{not json", encoding="utf-8")
    data = metas["Broken data"].with_name(metas["Broken data"].name.replace(".meta.json",
                                                                           ".jsonl"))
    data.write_text('{"id": "a"}\n{"id": "b", "title": \n', encoding="utf-8")
    assert store.names() == [DEMO_CORPUS, "Broken data", "Good"]
    with pytest.raises(InputError, match="The corpus “Broken data” cannot be read"):
        store.load("Broken data")
    assert store.load("Good") == DOCS


# ------------------------------------------------------------------ the demo corpus

def test_demo_corpus_is_listed_loaded_and_read_only(store):
    assert store.names() == [DEMO_CORPUS]
    papers = store.load(DEMO_CORPUS)
    assert [p.id for p in papers] == ["card-001", "card-002"]
    assert papers[1].extra == {"kind": "research", "cites": ["card-001"]}
    assert papers[1].labels == ["cardiology", "arrhythmia"] and papers[1].year == 2015
    assert store.info(DEMO_CORPUS)["count"] == 2
    for attempt in (lambda: store.save(DEMO_CORPUS, DOCS, overwrite=True),
                    lambda: store.save("  demo   PAPERS ", DOCS),
                    lambda: store.add(DEMO_CORPUS, DOCS),
                    lambda: store.rename(DEMO_CORPUS, "Mine"),
                    lambda: store.delete(DEMO_CORPUS)):
        with pytest.raises(ScimultError, match="read-only"):
            attempt()
    store.save("Mine", DOCS)
    with pytest.raises(ScimultError, match="read-only"):
        store.rename("Mine", DEMO_CORPUS)
    assert store.load(DEMO_CORPUS) == papers and store.names() == [DEMO_CORPUS, "Mine"]


def test_demo_loaders_read_the_data_folder(data_dir):
    assert [p.title for p in demo.papers(data_dir)] == ["Heart failure", "Atrial fibrillation"]
    patient = demo.patients(data_dir)[0]
    assert patient["id"] == "pat-01" and patient["relevant_articles"] == ["card-001"]
    assert demo.queries(data_dir) == [
        {"id": "q-c01", "text": "treating heart failure", "relevant": ["card-001"]}]
    assert demo.label_sets(data_dir) == {"Fields of study": data_dir / "labels_fields.jsonl"}
    (data_dir / "labels_clinical_topics.jsonl").write_text(
        '{"label": "heart-failure", "name": "Heart failure", "definition": "x"}\n')
    assert list(demo.label_sets(data_dir)) == ["Fields of study", "Clinical topics"]


def test_demo_loaders_name_a_missing_or_broken_file(data_dir):
    (data_dir / "patients.jsonl").unlink()
    with pytest.raises(InputError, match="patients.jsonl is missing"):
        demo.patients(data_dir)
    (data_dir / "queries.jsonl").write_text('{"id": "q"}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"queries.jsonl, line 2: not valid JSON"):
        demo.queries(data_dir)


def test_shipped_demo_papers_fit_the_documented_format():
    if not (demo.DATA_DIR / "papers.jsonl").is_file():
        pytest.skip("data/papers.jsonl is not written yet")
    papers = CorpusStore(data_dir=None).load(DEMO_CORPUS)
    assert papers and len({p.id for p in papers}) == len(papers)
    for paper in papers:
        assert paper.title and paper.abstract and paper.year
        assert "kind" in paper.extra and isinstance(paper.extra.get("cites"), list)
    assert corpora.DEMO_CORPUS == "Demo papers"
