"""Ingest: real files in every supported format, pasted text, mappings, duplicates, tokens."""
import json

import pandas as pd
import pytest

from scimult_app.corpus import readers as ingest
from scimult_app.corpus.documents import Document
from scimult_app.engine.tokenizer import Tokenizer
from scimult_app.errors import InputError


def upload(path):
    return ingest.parse_upload(path.name, path.read_bytes())


def documents(table, id_prefix="doc"):
    return ingest.to_documents(table, ingest.guess_mapping(table), id_prefix=id_prefix)


def make_pdf(lines):
    """A one-page PDF drawing `lines` in Helvetica, from hand-written objects and a real xref."""
    def escape(line):
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    ops += [f"({escape(line)}) Tj T*" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1") if lines else b""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


PAPER_LINES = [
    "arXiv:2101.00001v2 [cs.IR] 3 Jan 2021",
    "Sparse Mixtures of Experts for",
    "Scientific Document Retrieval",
    "Ada Lovelace, Alan Turing",
    "Abstract",
    "We study mixtures of experts for the retrieval of scien-",
    "tific papers across many domains.",
    "Recall improves on every benchmark.",
    "1 Introduction",
    "Retrieval matters in science.",
]


# ------------------------------------------------------------------ encodings and tables

def test_csv_with_bom_reads_clean_column_names(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_bytes("title,abstract,Year\nCoral bleaching,Warm water stresses reefs.,2019\n"
                     "Graph kernels,\"Fast kernels, for graphs.\",2021-05-01\n"
                     .encode("utf-8-sig"))
    table = upload(path)
    assert list(table.columns) == ["title", "abstract", "Year"]
    docs = documents(table)
    assert [d.title for d in docs] == ["Coral bleaching", "Graph kernels"]
    assert docs[1].abstract == "Fast kernels, for graphs."
    assert [d.year for d in docs] == [2019, 2021]
    assert [d.id for d in docs] == ["doc-1", "doc-2"]


def test_utf16_with_bom_is_accepted(tmp_path):
    path = tmp_path / "utf16.tsv"
    path.write_bytes("title\tabstract\nÉtude des récifs\tCoraux sous stress.\n".encode("utf-16"))
    docs = documents(upload(path))
    assert docs[0].title == "Étude des récifs"
    assert docs[0].abstract == "Coraux sous stress."


def test_latin1_bytes_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("title\nÉtude des récifs\n".encode("latin-1"))
    with pytest.raises(InputError) as error:
        upload(path)
    assert "latin.csv" in str(error.value)
    assert "not UTF-8" in str(error.value) and "Save the file as UTF-8" in str(error.value)


def test_semicolon_csv_and_long_fields(tmp_path):
    path = tmp_path / "excel.csv"
    long_text = "word " * 40_000  # 200 kB: over the csv module's default field limit
    path.write_text(f"Title;Body\nA long one;{long_text}\n", encoding="utf-8")
    table = upload(path)
    assert list(table.columns) == ["Title", "Body"]
    docs = documents(table)
    assert docs[0].title == "A long one" and len(docs[0].text) == len(long_text.strip())


def test_header_only_csv_has_no_rows(tmp_path):
    path = tmp_path / "empty_rows.csv"
    path.write_text("title,abstract\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty_rows.csv: no documents"):
        upload(path)


def test_jsonl_and_its_bad_line(tmp_path):
    path = tmp_path / "papers.jsonl"
    path.write_text('{"paper_id": "p1", "title": "One", "summary": "First."}\n\n'
                    '{"paper_id": "p2", "title": "Two", "summary": "Second."}\n', encoding="utf-8")
    docs = documents(upload(path))
    assert [(d.id, d.abstract) for d in docs] == [("p1", "First."), ("p2", "Second.")]
    path.write_text('{"title": "One"}\n{"title": "Two",\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"papers.jsonl, line 2: not valid JSON"):
        upload(path)
    path.write_text('{"title": "One"}\n["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: expected a JSON object"):
        upload(path)


def test_json_list_of_objects_and_wrong_shapes(tmp_path):
    path = tmp_path / "papers.json"
    path.write_text(json.dumps([{"title": "One", "abstract": "A.", "labels": ["x", "y"]},
                                {"title": "Two", "abstract": "B."}]), encoding="utf-8")
    docs = documents(upload(path))
    assert [d.title for d in docs] == ["One", "Two"]
    assert docs[0].labels == ["x", "y"] and docs[1].labels == []
    path.write_text(json.dumps({"papers": [{"title": "Wrapped"}]}), encoding="utf-8")
    assert documents(upload(path))[0].title == "Wrapped"
    path.write_text(json.dumps([{"title": "One"}, "two"]), encoding="utf-8")
    with pytest.raises(InputError, match="papers.json: item 2 of the list is a str"):
        upload(path)
    path.write_text('[{"title": "One"},\n{"title": }]', encoding="utf-8")
    with pytest.raises(InputError, match="papers.json, line 2: not valid JSON"):
        upload(path)


# ------------------------------------------------------------------ BibTeX and RIS

BIBTEX = r"""
% exported by hand
@string{jml = "Journal of Machine Learning"}
@comment{ an old entry: @article{ghost, title = {Not a paper}} }
@Article{smith2019,
  title = {The {RNA} World of {Nested {Deeply}} Braces},
  abstract = "A quoted abstract, with {braces} and a comma",
  year = 2019,
  journal = jml # " Research",
  keywords = {genomics, RNA; evolution},
}
@inproceedings( doe2020 ,
  TITLE = {Schr\"{o}dinger's Cat \& Caf\'e Networks},
  Abstract = {Networks in \emph{cafés}.},
  year = {2020}
)
"""


def test_bibtex_nested_braces_quotes_and_skipped_entries(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text(BIBTEX, encoding="utf-8")
    table = upload(path)
    assert list(table["id"]) == ["smith2019", "doe2020"]  # @comment and @string skipped
    docs = documents(table)
    first, second = docs
    assert first.title == "The RNA World of Nested Deeply Braces"
    assert first.abstract == "A quoted abstract, with braces and a comma"
    assert first.year == 2019
    assert first.labels == ["genomics", "RNA", "evolution"]
    assert first.extra["journal"] == "Journal of Machine Learning Research"
    assert second.title == "Schrödinger's Cat & Café Networks"
    assert second.abstract == "Networks in cafés."
    assert second.year == 2020


def test_bibtex_unbalanced_entry_names_file_and_line(tmp_path):
    path = tmp_path / "broken.bib"
    path.write_text("@article{ok, title={Fine}}\n\n@article{bad, title = {Never closed\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"broken.bib, line 3: the @article entry never closes"):
        upload(path)


def test_ris_records_with_keywords_and_wrapped_abstract(tmp_path):
    path = tmp_path / "export.ris"
    path.write_text(
        "TY  - JOUR\nID  - r1\nTI  - Deep-sea corals\nAB  - Corals grow slowly\n"
        "in cold water.\nKW  - ecology\nKW  - oceans\nPY  - 2018///\nER  - \n\n"
        "TY  - JOUR\nT1  - Fast graph kernels\nN2  - Linear-time kernels.\nY1  - 2020/05/01\n"
        "ER  -\n", encoding="utf-8")
    docs = documents(upload(path))
    assert [d.id for d in docs] == ["r1", "doc-2"]
    assert docs[0].title == "Deep-sea corals"
    assert docs[0].abstract == "Corals grow slowly in cold water."
    assert docs[0].labels == ["ecology", "oceans"]
    assert [d.year for d in docs] == [2018, 2020]
    assert docs[1].title == "Fast graph kernels" and docs[1].abstract == "Linear-time kernels."


# ------------------------------------------------------------------ PDF

def test_pdf_title_and_abstract_are_guessed(tmp_path):
    path = tmp_path / "paper.pdf"
    path.write_bytes(make_pdf(PAPER_LINES))
    table = upload(path)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["title"] == "Sparse Mixtures of Experts for Scientific Document Retrieval"
    assert row["abstract"] == ("We study mixtures of experts for the retrieval of scientific "
                               "papers across many domains. Recall improves on every benchmark.")
    assert row["text_source"] == "pdf"
    doc = documents(table)[0]
    assert doc.extra["text_source"] == "pdf"


def test_pdf_says_pages_read_and_where_the_abstract_was_cut(tmp_path):
    import io

    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(PAPER_LINES))))
    for _ in range(4):
        writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    row = ingest.parse_upload("long.pdf", buffer.getvalue()).iloc[0]
    assert (row["pages_read"], row["pages_total"]) == (3, 5)
    assert row["abstract_cut"] == "at the heading '1 Introduction'"
    endless = ["A Title Long Enough To Count", "Abstract",
               *[f"word{n} " * 10 for n in range(50)]]
    row = ingest.parse_upload("endless.pdf", make_pdf(endless)).iloc[0]
    assert len(row["abstract"].split()) == 400
    assert row["abstract_cut"] == "after 400 words (of 500 before the next heading)"


def test_pdf_without_abstract_heading_takes_first_words(tmp_path):
    path = tmp_path / "notes.pdf"
    body = [f"sentence {n} about coral reef ecology and warming" for n in range(60)]
    path.write_bytes(make_pdf(["Coral Reefs Under Ocean Warming", *body]))
    row = upload(path).iloc[0]
    assert row["title"] == "Coral Reefs Under Ocean Warming"
    words = row["abstract"].split()
    assert words[:3] == ["sentence", "0", "about"] and len(words) == 250
    assert row["abstract_cut"] == ("no Abstract heading: the first 250 words after the title "
                                   "(of 480 on the pages read)")


def test_pdf_without_text_asks_for_ocr(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([]))
    with pytest.raises(InputError) as error:
        upload(path)
    assert "scan.pdf" in str(error.value) and "scanned PDF?" in str(error.value)
    assert "OCR" in str(error.value)


def test_damaged_pdf_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.pdf"
    path.write_bytes(make_pdf(PAPER_LINES)[:200])
    with pytest.raises(InputError, match="cut.pdf: the PDF is damaged"):
        upload(path)


# ------------------------------------------------------------------ file-level errors

def test_too_large_empty_and_unknown_files(tmp_path):
    with pytest.raises(InputError, match=r"big.csv is .*the limit is 0.001 MB"):
        ingest.parse_upload("big.csv", b"title\n" + b"x" * 2000, max_bytes=1000)
    with pytest.raises(InputError, match="blank.jsonl is empty"):
        ingest.parse_upload("blank.jsonl", b"  \n\n")
    with pytest.raises(InputError) as error:
        ingest.parse_upload("paper.docx", b"PK\x03\x04")
    message = str(error.value)
    assert "paper.docx" in message and ".docx" in message
    assert all(f".{ext}" in message for ext in ("csv", "bib", "ris", "pdf", "jsonl", "txt"))


def test_plain_text_file_is_split_on_blank_lines(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Coral bleaching\nWarm water stresses reefs.\n\n"
                    "Title: Graph kernels\nAbstract: Fast kernels.\n", encoding="utf-8")
    docs = documents(upload(path))
    assert [(d.title, d.abstract) for d in docs] == [
        ("Coral bleaching", "Warm water stresses reefs."), ("Graph kernels", "Fast kernels.")]


# ------------------------------------------------------------------ pasted text

def test_parse_pasted_fields_titles_and_bare_blocks():
    long_line = " ".join(["word"] * 40)
    table = ingest.parse_pasted(
        "TITLE: Cold-water corals\nabstract: Reefs in fjords\nlose density.\n"
        "Keywords: ecology; oceans\n\r\n"
        "Fast graph kernels\nA linear-time kernel.\nBackground: it is fast.\n\n"
        f"{long_line}\n\n"
        "Only one short line\n")
    docs = documents(table)
    assert [d.title for d in docs] == ["Cold-water corals", "Fast graph kernels", "", ""]
    assert docs[0].abstract == "Reefs in fjords lose density."
    assert docs[0].labels == ["ecology", "oceans"]
    assert docs[1].abstract == "A linear-time kernel. Background: it is fast."
    assert docs[2].abstract == long_line
    assert docs[3].abstract == "Only one short line"


def test_parse_pasted_structured_abstract_stays_whole_and_empty_paste_fails():
    table = ingest.parse_pasted("Title: A trial\nAbstract: Background: x.\nMethods: y.\n"
                                "Results: z.")
    assert table.loc[0, "abstract"] == "Background: x. Methods: y. Results: z."
    with pytest.raises(InputError, match="Nothing to read"):
        ingest.parse_pasted(" \n \n")


# ------------------------------------------------------------------ mapping and documents

def test_guess_mapping_synonyms_case_insensitive():
    table = pd.DataFrame(columns=["Paper ID", "TI", "Summary", "Keywords", "Publication_Year",
                                  "Body", "Authors"])
    assert ingest.guess_mapping(table) == {
        "id": "Paper ID", "title": "TI", "abstract": "Summary", "text": "Body",
        "labels": "Keywords", "year": "Publication_Year"}
    other = pd.DataFrame({"ref": ["a", "b"], "sentence": ["a long sentence here", "another"]})
    guessed = ingest.guess_mapping(other)
    assert guessed["text"] == "sentence" and guessed["title"] is None


def test_to_documents_ids_labels_years_and_empty_rows():
    first = pd.DataFrame({"id": ["a", "a", ""], "title": ["One", "Two", "Three"],
                          "labels": ["x; y", "x|z", ""], "date": ["2019-05-01", "May 2020", ""],
                          "cites": ["b;c", "", ""]})
    second = pd.DataFrame({"id": ["b"], "abstract": ["Four."]})  # concat leaves NaN cells
    table = pd.concat([first, second, pd.DataFrame({"title": ["  "]})], ignore_index=True)
    mapping = {"id": "id", "title": "title", "abstract": "abstract", "text": None,
               "labels": "labels", "year": "date"}
    docs, skipped = ingest.to_documents_counted(table, mapping, id_prefix="up")
    assert skipped == 1
    assert [d.id for d in docs] == ["a", "a-2", "up-3", "b"]
    assert [d.labels for d in docs] == [["x", "y"], ["x", "z"], [], []]
    assert [d.year for d in docs] == [2019, 2020, None, None]
    assert docs[0].extra == {"cites": ["b", "c"]}
    assert docs[3].abstract == "Four." and docs[3].title == ""
    assert ingest.to_documents(table, mapping, id_prefix="up") == docs


def test_parse_year_forms():
    assert [ingest.parse_year(v) for v in (2019, 2019.0, "2019-05-01", "05/01/2019",
                                           "c. 1998", pd.Timestamp("2021-03-04"))] == [
        2019, 2019, 2019, 2019, 1998, 2021]
    assert [ingest.parse_year(v) for v in (None, float("nan"), "", "n.d.", 12, 2019.5)] == [
        None] * 6


def test_drop_duplicates_ignores_case_and_spacing_and_keeps_first():
    table = pd.DataFrame({"title": ["Coral  Reefs", "coral reefs", "Coral reefs", "Other"],
                          "abstract": ["Warm water.", "warm   WATER.", "Cold water.",
                                       "Warm water."]})
    docs = documents(table)
    kept, dropped = ingest.drop_duplicates(docs)
    assert dropped == 1
    assert [d.id for d in kept] == ["doc-1", "doc-3", "doc-4"]


def test_token_report_counts_with_a_real_wordpiece_tokenizer(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "coral",
                                "reef", "warm", "water", "."]) + "\n", encoding="utf-8")
    tokenizer = Tokenizer(vocab, True, "test")
    table = pd.DataFrame({"id": ["a", "b"], "title": ["Coral", "Coral reef"],
                          "abstract": ["", "Warm water. Warm water."]})
    report = ingest.token_report(documents(table), tokenizer, max_length=6)
    assert list(report.columns) == ["id", "title", "tokens", "truncated"]
    # "coral" -> 1 + [CLS] [SEP]; "coral reef [SEP] warm water . warm water ." -> 9 + 2
    assert list(report["tokens"]) == [3, 11]
    assert list(report["truncated"]) == [False, True]
    assert ingest.token_report([], tokenizer, 6).empty
    book = Document(id="book", title="Coral", abstract="warm water . " * 200_000)
    long = ingest.token_report([book], tokenizer, max_length=6)  # counted only to the cap
    assert list(long["tokens"]) == [ingest.count_cap(6) + 1] and bool(long["truncated"][0])


def test_one_reading_of_years_and_labels_for_cli_store_and_uploads(tmp_path):
    """The CLI's reader, the upload reader and record loading agree on every cell."""
    from scimult_app.corpus.documents import document_from_record
    record = {"id": "a", "title": "Reefs", "abstract": "Warm water.", "year": "May 2019",
              "labels": "ecology; oceans", "cites": ["b"]}
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "b"}) + "\n")
    cli_doc = ingest.read_documents(path)[0]
    upload_doc = documents(upload(path))[0]
    record_doc = document_from_record(record, "1")
    for doc in (cli_doc, upload_doc, record_doc):
        assert (doc.year, doc.labels) == (2019, ["ecology", "oceans"])
    assert cli_doc == upload_doc


def test_cli_reader_is_strict_and_reads_every_format(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k1, title={Reef growth}, abstract={Warm water slows it.}, year={2020}}")
    assert [(d.id, d.year) for d in ingest.read_documents(bib)] == [("k1", 2020)]
    lines = tmp_path / "queries.txt"
    lines.write_text("first query\n\nsecond query\n")
    assert [(d.id, d.text) for d in ingest.read_documents(lines)] == [
        ("1", "first query"), ("3", "second query")]
    repeated = tmp_path / "twice.csv"
    repeated.write_text("id,text\nx,one\nx,two\n")
    with pytest.raises(InputError, match="twice.csv: the id 'x' appears twice"):
        ingest.read_documents(repeated)
    empty_row = tmp_path / "gap.csv"
    empty_row.write_text("id,text\nx,one\ny,\n")
    with pytest.raises(InputError, match="gap.csv: 1 of 2 rows have no text"):
        ingest.read_documents(empty_row)
    with pytest.raises(InputError, match="missing.jsonl: cannot be read"):
        ingest.read_documents(tmp_path / "missing.jsonl")


def test_read_queries_takes_relevant_ids_from_any_format():
    data = b'{"id": "q1", "text": "reef warming", "relevant": ["p1", "p2"]}\n'
    assert ingest.read_queries("q.jsonl", data) == [
        {"id": "q1", "text": "reef warming", "relevant": ["p1", "p2"]}]
    csv_data = b"id,text,relevant\nq2,coral growth,p3|p4\n"
    assert ingest.read_queries("q.csv", csv_data)[0]["relevant"] == ["p3", "p4"]
