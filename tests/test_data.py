"""The shipped demo data holds together: sizes, lengths, ids, citations and labels."""
from collections import Counter

from scimult_app.corpus import demo
from scimult_app.corpus.labels import read_label_set


def label_ids(name):
    path = demo.label_sets()[name]
    return {label.label for label in read_label_set(path.name, path.read_bytes())}


def test_corpus_shape():
    papers = demo.papers()
    assert len(papers) >= 150
    assert len({p.id for p in papers}) == len(papers)
    fields = Counter(p.labels[0] for p in papers)
    assert len(fields) >= 6 and min(fields.values()) >= 10
    assert all(60 <= len(p.abstract.split()) <= 150 for p in papers)
    clinical = [p for p in papers if p.extra["kind"] in ("case-report", "review")
                and p.labels[0] in ("cardiology", "oncology", "infectious-disease", "neuroscience")]
    assert len(clinical) >= 30


def test_citations_point_to_earlier_papers_within_and_across_fields():
    papers = demo.papers()
    by_id = {p.id: p for p in papers}
    cross = 0
    for paper in papers:
        for cited in paper.extra["cites"]:
            assert by_id[cited].year < paper.year, (paper.id, cited)
            cross += by_id[cited].labels[0] != paper.labels[0]
    assert cross >= 5


def test_labels_come_from_the_label_sets():
    fields, topics = label_ids("Fields of study"), label_ids("Clinical topics")
    assert 18 <= len(fields) <= 24 and 18 <= len(topics) <= 24
    for paper in demo.papers():
        assert paper.labels[0] in fields
        if paper.labels[0] in ("cardiology", "oncology", "infectious-disease", "neuroscience"):
            assert paper.labels[1] in topics


def test_patients_and_queries_reference_real_ids():
    ids = {p.id for p in demo.papers()}
    patients = demo.patients()
    patient_ids = {p["id"] for p in patients}
    assert len(patients) >= 15
    for patient in patients:
        assert 60 <= len(patient["text"].split()) <= 150
        assert patient["relevant_articles"] and set(patient["relevant_articles"]) <= ids
        assert set(patient["similar_patients"]) <= patient_ids - {patient["id"]}
    queries = demo.queries()
    assert len(queries) >= 20
    for query in queries:
        assert query["relevant"] and set(query["relevant"]) <= ids
