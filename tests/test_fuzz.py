"""Bad input, fuzzed: every reader and the checkpoint loader get arbitrary and mutated bytes.

Each either returns documents (labels, queries, a model) or raises the project's own error
(a ScimultError subclass) with a message; never another exception. A hang would show as a
test that never ends; every example runs under a per-example alarm that fails it instead.
The number of examples each test ran is printed at the end of the module (`pytest -s`) and
checked against its setting. Budget: about a minute on a busy two-core machine, with a fixed
(derandomised) set of examples so a run is reproducible. To search further, run with
SCIMULT_FUZZ_SCALE=10 (ten times the examples, fresh random ones each run).
"""
import json
import os
import signal
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimult_app.corpus import readers
from scimult_app.corpus.labels import read_label_set
from scimult_app.corpus.readers import queries_from_documents, read_documents, read_queries
from scimult_app.errors import ScimultError

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "scimult_moe_attn_tiny"
EXAMPLE_SECONDS = 20  # one example taking longer than this is a hang, not a slow machine
RAN: Counter = Counter()
SCALE = float(os.environ.get("SCIMULT_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    derandomize=SCALE == 1, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def no_hang(what: str):
    def alarm(signum, frame):
        raise AssertionError(f"{what} ran for over {EXAMPLE_SECONDS} s: a hang")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(EXAMPLE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def accepted_or_own_error(call, what: str):
    """Run `call`; a ScimultError with a message is fine, anything else fails the test."""
    with no_hang(what):
        try:
            return call()
        except ScimultError as error:
            assert str(error).strip(), f"{what}: {type(error).__name__} without a message"
            return None


# ---------------------------------------------------------------- valid samples to mutate

def _pdf_sample() -> bytes:
    lines = ["Sparse Mixtures of Experts for Retrieval", "Abstract",
             "We study mixtures of experts.", "1 Introduction", "Retrieval matters."]
    stream = "BT /F1 11 Tf 14 TL 72 760 Td " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream.encode()),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


SAMPLES = {
    "csv": b'id,title,abstract,labels,year\np1,"Coral, reefs",Warm water.,eco;bio,2019\n'
           b"p2,Graph kernels,Fast kernels.,cs,2021-05-01\n",
    "tsv": b"id\ttitle\tabstract\np1\tCoral reefs\tWarm water.\n",
    "jsonl": b'{"id": "p1", "title": "One", "abstract": "First.", "labels": ["a"], "cites": ["p2"]}\n'
             b'{"id": "p2", "text": "Second.", "year": 2020, "relevant": "p1|p3"}\n',
    "ndjson": b'{"id": "p1", "text": "One."}\n',
    "json": b'{"papers": [{"id": "p1", "title": "One", "abstract": "First.", "year": "May 2019"}]}',
    "bib": b"@string{j = {Nature}}\n@article{key1, title = {Caf\\'e {\\\"U}ber $x$}, abstract = "
           b'"Warm " # j, keywords = {a, b}, year = 2019}\n@comment{x}\n',
    "ris": b"TY  - JOUR\nTI  - Coral reefs\nAB  - Warm water\n  wraps here.\nKW  - eco\nPY  - 2019\n"
           b"ER  - \n",
    "txt": b"Title: Coral reefs\nAbstract: Warm water.\n\nGraph kernels\nFast kernels for graphs.\n",
    "md": b"# Coral reefs\nWarm water stresses reefs.\n",
    "pdf": _pdf_sample(),
}
assert set(SAMPLES) == set(readers.SUPPORTED)


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """`sample` with a few random edits: bytes flipped, cut out, duplicated or inserted."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32)
                               | st.sampled_from([b"\x00", b"{", b"}", b'"', b",", b"\n",
                                                  b"@article{", b"TY  - ", b"\xff\xfe", b"\\"]))
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 256))]
        else:
            del data[at:]
    return bytes(data)


def inputs(sample: bytes):
    """Arbitrary bytes, arbitrary text as UTF-8, or a mutated valid file."""
    return st.one_of(st.binary(max_size=512), st.text(max_size=256).map(str.encode),
                     mutated(sample))


# ---------------------------------------------------------------- corpus readers

def _documents_from_upload(filename: str, data: bytes):
    table = readers.parse_upload(filename, data)
    documents = readers.to_documents(table, readers.guess_mapping(table))
    readers.drop_duplicates(documents)
    for document in documents:
        assert isinstance(document.model_input(), str)
    return documents


def _upload_test(extension: str, examples: int):
    @fuzz_settings(examples)
    @given(data=inputs(SAMPLES[extension]))
    def test(data):
        RAN[f"parse_upload .{extension}"] += 1
        accepted_or_own_error(lambda: _documents_from_upload(f"upload.{extension}", data),
                              f"parse_upload(.{extension})")
    return test


test_upload_csv = _upload_test("csv", 120)
test_upload_tsv = _upload_test("tsv", 60)
test_upload_jsonl = _upload_test("jsonl", 120)
test_upload_ndjson = _upload_test("ndjson", 40)
test_upload_json = _upload_test("json", 120)
test_upload_bib = _upload_test("bib", 150)
test_upload_ris = _upload_test("ris", 100)
test_upload_txt = _upload_test("txt", 60)
test_upload_md = _upload_test("md", 40)
test_upload_pdf = _upload_test("pdf", 80)


@fuzz_settings(60)
@given(text=st.text(max_size=400))
def test_pasted_text(text):
    RAN["parse_pasted"] += 1

    def read():
        table = readers.parse_pasted(text)
        return readers.to_documents(table, readers.guess_mapping(table))
    accepted_or_own_error(read, "parse_pasted")


def _on_disk(suffix: str, data: bytes, reader):
    with tempfile.TemporaryDirectory(prefix="scimult-fuzz-") as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        return accepted_or_own_error(lambda: reader(path), f"{reader.__name__}({suffix})")


@fuzz_settings(200)
@given(suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt", ".bib", ".ris"]),
       data=st.one_of(inputs(SAMPLES["jsonl"]), inputs(SAMPLES["csv"]), inputs(SAMPLES["tsv"])))
def test_read_documents(suffix, data):
    RAN["read_documents"] += 1
    documents = _on_disk(suffix, data, read_documents)
    for document in documents or []:
        assert document.model_input().strip()


QUERY_SAMPLE = (b'{"id": "q1", "text": "coral bleaching", "relevant": ["p1", "p2"]}\n'
                b'{"id": "q2", "text": "graph kernels", "relevant": "p3"}\n')


QUERY_ROWS = st.lists(st.dictionaries(
    st.sampled_from(["id", "text", "relevant", "title"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=3), inner, max_size=2), max_leaves=6)),
    max_size=4).map(lambda rows: "\n".join(map(json.dumps, rows)).encode())


def _check_queries(queries):
    for query in queries or []:
        assert isinstance(query["text"], str) and query["text"].strip()
        assert all(isinstance(item, str) for item in query["relevant"])


@fuzz_settings(150)
@given(suffix=st.sampled_from([".jsonl", ".csv", ".txt"]),
       data=st.one_of(inputs(QUERY_SAMPLE), QUERY_ROWS))
def test_queries_file(suffix, data):
    """The CLI's queries: read_documents, then queries_from_documents."""
    RAN["read_documents -> queries"] += 1
    documents = _on_disk(suffix, data, read_documents)
    if documents:
        _check_queries(accepted_or_own_error(lambda: queries_from_documents(documents),
                                             "queries_from_documents"))


@fuzz_settings(150)
@given(filename=st.sampled_from(["queries.jsonl", "queries.csv", "queries.tsv", "queries.json",
                                 "queries.txt"]),
       data=st.one_of(inputs(QUERY_SAMPLE), QUERY_ROWS))
def test_read_queries(filename, data):
    """The app's queries upload: read_queries(filename, bytes)."""
    RAN["read_queries"] += 1
    _check_queries(accepted_or_own_error(lambda: read_queries(filename, data), "read_queries"))


LABEL_SAMPLES = [b"label,name,definition\ncs.LG,Machine Learning,Learning from data\n"
                 b"q-bio,Biology,\"Life, quantified\"\n",
                 b'{"label": "eco", "name": "Ecology", "definition": "Organisms."}\n'
                 b'{"name": "Oncology"}\n']


@fuzz_settings(200)
@given(filename=st.sampled_from(["labels.csv", "labels.tsv", "labels.jsonl", "labels.json",
                                 "labels.txt", "labels"]),
       data=st.one_of(*[inputs(sample) for sample in LABEL_SAMPLES]))
def test_read_label_set(filename, data):
    RAN["read_label_set"] += 1
    labels = accepted_or_own_error(lambda: read_label_set(filename, data), "read_label_set")
    for label in labels or []:
        assert isinstance(label.label, str) and label.label and isinstance(label.name, str)


# ---------------------------------------------------------------- the checkpoint loader

CHECKPOINT = (FIXTURE / "model.ckpt").read_bytes()


@pytest.fixture(scope="module")
def loader():
    from scimult_app.engine.loading import load_model
    return load_model


@st.composite
def mutated_checkpoint(draw) -> bytes:
    data = bytearray(CHECKPOINT)
    start = CHECKPOINT.find(b"data.pkl")  # edit the pickle and the zip directory as well as tensors
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip_pickle", "truncate", "delete", "insert"]))
        if kind == "flip_pickle" and start < len(data):
            at = draw(st.integers(start, min(len(data) - 1, start + 1500)))
        else:
            at = draw(st.integers(0, len(data) - 1))
        if kind.startswith("flip"):
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


@fuzz_settings(150)
@given(data=st.one_of(st.binary(max_size=256), mutated_checkpoint()))
def test_checkpoint_loader(loader, data):
    RAN["load_model (checkpoint)"] += 1
    with tempfile.TemporaryDirectory(prefix="scimult-fuzz-") as folder:
        path = Path(folder) / "model.ckpt"
        path.write_bytes(data)
        loaded = accepted_or_own_error(lambda: loader(path, FIXTURE / "tokenizer"), "load_model")
        if loaded is not None:
            from scimult_app.engine.embedder import Embedder
            with no_hang("embedding with a mutated checkpoint"):
                Embedder(loaded, device="cpu", use_cache=False).encode(["coral reefs"], "link", "query")


def test_fuzz_counts():
    """Runs last (file order): every fuzz test ran its examples; prints the counts."""
    print("\nfuzz examples run:")
    for name, count in sorted(RAN.items()):
        print(f"  {name:28}{count:6}")
    print(f"  {'total':28}{sum(RAN.values()):6}")
    if len(RAN) >= 15:  # the whole module ran (not a -k selection)
        assert all(count >= 20 for count in RAN.values())

