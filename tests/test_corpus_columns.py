"""The corpus store's columnar copy (`<stem>.parquet`): every field comes back exactly as the
JSONL gives it, the copy follows every save, add, rename and delete, and a stale, foreign or
damaged copy is never served but rebuilt from the JSONL."""
import json
import os

import numpy as np
import pytest

from scimult_app.corpus import columns
from scimult_app.corpus.columns import copy_path, read_copy
from scimult_app.corpus.documents import Document
from scimult_app.corpus.store import CorpusStore

ODD = [
    Document(id="a-1", title="Coral reefs ☕ and 珊瑚礁", abstract="Warm water.\nNew line, tab\t.",
             year=2019, labels=["ecology", "océans", "海洋"],
             extra={"source_file": "x.csv", "cites": ["b"], "score": 0.25, "nested": {"k": [1]}}),
    Document(id="b", text="  A plain text document, kept exactly.  ", year=None),
    Document(id="ح-3", title="عنوان من اليمين", abstract="e\u0301 combining, \u0000 nul, 😀"),
    Document(id="", title="", abstract="", text="", year=0, labels=[], extra={}),
    Document(id="big", title="x" * 5000, year=-44, labels=["", " spaced "], extra={"": None}),
    Document(id="np", title="numpy in extra", year=1999,
             extra={"vector": np.arange(3), "count": np.int64(7), "tags": ("t1", "t2")}),
]


@pytest.fixture
def store(tmp_path):
    return CorpusStore(tmp_path / "corpora")


def jsonl_docs(store, name):
    """What the JSONL itself says, parsed line by line without the store."""
    path = store.root / f"{store.key(name)}.jsonl"
    return [Document(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def state(store, name):
    stat = (store.root / f"{store.key(name)}.jsonl").stat()
    return stat.st_size, stat.st_mtime_ns


def copied(store, name):
    """The documents the column copy holds for the JSONL as it is now (None: no such copy)."""
    return read_copy(copy_path(store.root / f"{store.key(name)}.jsonl"), state(store, name))


def test_every_field_round_trips_exactly(store):
    store.save("Odd", ODD)
    expected = jsonl_docs(store, "Odd")
    assert expected[5].extra == {"vector": [0, 1, 2], "count": 7, "tags": ["t1", "t2"]}
    from_copy = copied(store, "Odd")
    assert from_copy == expected
    for got, want in zip(from_copy, expected):
        for field in ("id", "title", "abstract", "text", "year", "labels", "extra"):
            assert type(getattr(got, field)) is type(getattr(want, field)), field
    assert CorpusStore(store.root).load("Odd") == expected
    assert [d.id for d in from_copy] == [d.id for d in ODD]
    assert from_copy[0] == ODD[0] and from_copy[2] == ODD[2] and from_copy[4] == ODD[4]


def test_many_row_groups_read_in_other_batches_keep_order_and_labels(store, monkeypatch):
    docs = [Document(id=f"p{i}", title=f"Paper {i}", year=1990 + i if i % 4 else None,
                     labels=[f"l{j}" for j in range(i % 3)], extra={"i": i} if i % 5 else {})
            for i in range(53)]
    monkeypatch.setattr(columns, "ROW_GROUP", 7)  # written in groups of 7
    store.save("Groups", docs)
    monkeypatch.setattr(columns, "BATCH", 5)  # read in batches of 5: slices of groups
    assert copied(store, "Groups") == docs
    assert CorpusStore(store.root).load("Groups") == docs


def test_documents_of_other_types_are_read_from_the_jsonl(store):
    # a tuple of labels comes back from JSON as a list: no copy at save, one after the load
    store.save("Tuples", [Document(id="t", title="T", labels=("x", "y"))])
    assert not copy_path(store.root / f"{store.key('Tuples')}.jsonl").exists()
    assert CorpusStore(store.root).load("Tuples") == [Document(id="t", title="T",
                                                               labels=["x", "y"])]
    assert copied(store, "Tuples") == [Document(id="t", title="T", labels=["x", "y"])]
    # a year of 2019.0 stays a float in JSON: never copied, always read from the JSONL
    store.save("Floats", [Document(id="f", year=2019.0), Document(id="g", year=True)])
    for _ in range(2):
        loaded = CorpusStore(store.root).load("Floats")
        assert loaded == jsonl_docs(store, "Floats")
        assert type(loaded[0].year) is float and loaded[1].year is True
        assert not copy_path(store.root / f"{store.key('Floats')}.jsonl").exists()


def test_saves_adds_renames_and_deletes_keep_the_copy_in_step(store):
    store.save("Reefs", ODD[:2])
    assert copied(store, "Reefs") == ODD[:2]
    store.save("Reefs", ODD[2:4], overwrite=True)
    assert copied(store, "Reefs") == ODD[2:4]
    assert CorpusStore(store.root).load("Reefs") == ODD[2:4]
    store.add("Reefs", [ODD[0], ODD[2]])
    assert copied(store, "Reefs") == [ODD[2], ODD[3], ODD[0]]
    assert CorpusStore(store.root).load("Reefs") == [ODD[2], ODD[3], ODD[0]]
    store.rename("Reefs", "Coral")
    assert copied(store, "Coral") == [ODD[2], ODD[3], ODD[0]]
    assert CorpusStore(store.root).load("Coral") == [ODD[2], ODD[3], ODD[0]]
    stem = store.key("Coral")
    store.delete("Coral")
    assert not [p for p in store.root.iterdir() if p.name.startswith(stem)]
    store.save("Coral", ODD[1:2])  # the same name again: no old copy comes back
    assert CorpusStore(store.root).load("Coral") == ODD[1:2]


def test_a_jsonl_changed_behind_the_store_is_never_served_from_its_old_copy(store):
    store.save("Edited", ODD[:2])
    path = store.root / f"{store.key('Edited')}.jsonl"
    old_copy = copy_path(path).read_bytes()
    # the same size, a new modification time: only the text differs
    text = path.read_text(encoding="utf-8").replace("Coral reefs", "Kelp forest")
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert path.stat().st_size == before.st_size
    loaded = CorpusStore(store.root).load("Edited")
    assert loaded[0].title == "Kelp forest ☕ and 珊瑚礁" and loaded[1:] == ODD[1:2]
    assert copy_path(path).read_bytes() != old_copy  # rebuilt for the JSONL as it is now
    assert copied(store, "Edited") == loaded
    # a line appended by hand
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"id": "hand", "title": "Added by hand"}) + "\n")
    assert [d.id for d in CorpusStore(store.root).load("Edited")] == ["a-1", "b", "hand"]
    assert [d.id for d in copied(store, "Edited")] == ["a-1", "b", "hand"]


def test_another_corpus_copy_in_its_place_is_not_served(store):
    store.save("First", ODD[:3])
    store.save("Second", ODD[3:])
    first = copy_path(store.root / f"{store.key('First')}.jsonl")
    second = copy_path(store.root / f"{store.key('Second')}.jsonl")
    second.write_bytes(first.read_bytes())  # a whole, readable copy of the wrong JSONL
    expected = jsonl_docs(store, "Second")
    assert [d.id for d in expected] == ["", "big", "np"]
    assert CorpusStore(store.root).load("Second") == expected
    assert copied(store, "Second") == expected


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped", "empty"])
def test_a_damaged_copy_is_rebuilt(store, damage):
    docs = [Document(id=f"p{i}", title=f"Paper {i}", abstract="words and more words " * 30,
                     year=2000 + i % 20, labels=[f"l{i % 3}"]) for i in range(300)]
    store.save("Damaged", docs)
    path = copy_path(store.root / f"{store.key('Damaged')}.jsonl")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a parquet file at all")
    elif damage == "flipped":  # inside the data pages, the footer intact
        for position in range(len(data) // 4, len(data) // 2, 97):
            data[position] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert read_copy(path, state(store, "Damaged")) is None
    assert CorpusStore(store.root).load("Damaged") == docs
    assert copied(store, "Damaged") == docs


def test_a_failed_save_leaves_no_copy_of_what_was_not_saved(store):
    store.save("Kept", ODD[:2])

    def twice():
        yield ODD[2:4]
        yield [ODD[2]]  # a repeated id: the save is refused after the first batch

    with pytest.raises(Exception, match="appears twice"):
        store.save_stream("Kept", twice(), overwrite=True)
    assert copied(store, "Kept") == ODD[:2]
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]
