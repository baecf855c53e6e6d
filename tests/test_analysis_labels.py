"""Label sets: reading CSV/JSONL with clear errors, label texts, prediction, evaluation."""
import numpy as np
import pytest

from scimult_app.analysis.labels import distribution, evaluate, predict
from scimult_app.corpus.labels import Label, label_texts, read_label_set
from scimult_app.errors import InputError


def test_csv_with_and_without_ids():
    data = b"\xef\xbb\xbfName,Definition,label\nHeart Failure,The heart pumps poorly.,hf\n" \
           b"Sepsis & Shock,,\n\n"
    labels = read_label_set("set.csv", data)
    assert labels == [Label("hf", "Heart Failure", "The heart pumps poorly."),
                      Label("sepsis-shock", "Sepsis & Shock", "")]
    assert label_texts(labels) == ["Heart Failure [SEP] The heart pumps poorly.",
                                   "Sepsis & Shock"]


def test_jsonl_round_trip_from_labels():
    import json
    original = [Label("a", "Alpha", "first"), Label("b-c", "B C", "")]
    data = "\n".join(json.dumps(vars(label)) for label in original).encode()
    assert read_label_set("labels.jsonl", data) == original
    no_ids = b'{"name": "Machine Learning", "definition": "ML"}\n\n{"name": "NLP"}\n'
    assert [l.label for l in read_label_set("x.jsonl", no_ids)] == ["machine-learning", "nlp"]


@pytest.mark.parametrize("filename, data, words", [
    ("set.csv", b"title,definition\nA,b\n", ["set.csv", "'name'", "title"]),
    ("set.csv", b"  \n", ["set.csv", "empty"]),
    ("set.csv", b"name,definition\nA,x\nB,y\nA,z\n", ["set.csv", "'a'", "twice", "2", "4"]),
    ("set.csv", b"name,definition\n,orphan definition\n", ["set.csv", "row 2", "no name"]),
    ("set.jsonl", b'{"name": "A"}\n{"name": "B",\n', ["set.jsonl", "line 2", "JSON"]),
    ("set.jsonl", b'["A"]\n', ["set.jsonl", "line 1", "object"]),
    ("set.csv", b"name\n\xff\xfe\n", ["set.csv", "UTF-8"]),
    ("set.csv", b"name,definition\n,\n", ["set.csv", "no labels"]),
])
def test_errors_name_file_and_problem(filename, data, words):
    with pytest.raises(InputError) as error:
        read_label_set(filename, data)
    for word in words:
        assert word in str(error.value)


def test_predict_top_k():
    papers = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    labels = np.array([[0.0, 1.0], [1.0, 0.1], [0.5, 0.5]], dtype=np.float32)
    indices, values = predict(papers, labels, 2, "dot")
    assert indices.tolist() == [[1, 2], [0, 2]]
    np.testing.assert_allclose(values, [[1.0, 0.5], [2.0, 1.0]], rtol=1e-6)


def test_evaluate_counts_only_gold_in_label_set():
    predicted = [["a", "b"], ["c", "a"], ["b", "c"], ["a", "c"]]
    gold = [["a", "x"], ["a", "b"], ["x"], []]
    result = evaluate(predicted, gold, 2, label_ids=["a", "b", "c"])
    # paper 1: gold {a} -> recall 1, top-1 hit; paper 2: gold {a, b} -> recall 1/2, miss;
    # papers 3 and 4 have no gold label in the set
    assert result == {"recall_at_k": pytest.approx(0.75), "accuracy": pytest.approx(0.5),
                      "papers_evaluated": 2}
    # k = 1: paper 1 finds a (1), paper 2's top-1 is c (0 of {a, b})
    assert evaluate(predicted, gold, 1, label_ids="abc")["recall_at_k"] == pytest.approx(0.5)
    # without label_ids, the labels seen in the predictions form the set
    assert evaluate(predicted, gold, 2)["papers_evaluated"] == 2
    assert evaluate([["a"]], [["z"]], 1) == {"recall_at_k": 0.0, "accuracy": 0.0,
                                             "papers_evaluated": 0}


def test_distribution_sorted():
    table = distribution(["b", "a", "b", "c", "a", "b"])
    assert table.columns.tolist() == ["label", "count"]
    assert table.values.tolist() == [["b", 3], ["a", 2], ["c", 1]]
    assert distribution([]).columns.tolist() == ["label", "count"]
