"""The map's selection logic on events shaped like Streamlit's plotly selection state."""
from types import SimpleNamespace

import numpy as np

from scimult_app.analysis.selection import clicked_id, highlight, selected_ids


def event(points, box=(), lasso=()):
    return {"selection": {"points": points, "point_indices": [p.get("point_index") for p in points],
                          "box": list(box), "lasso": list(lasso)}}


# two colour groups (traces): point indices restart at 0 in each, so only customdata is an id
POINTS = [
    {"curve_number": 0, "point_index": 0, "point_number": 0, "x": 1.0, "y": 2.0,
     "customdata": ["doc-7"]},
    {"curve_number": 1, "point_index": 0, "point_number": 0, "x": 3.0, "y": 1.0,
     "customdata": ["doc-2", "extra"]},
    {"curve_number": 1, "point_index": 3, "point_number": 3, "x": 0.5, "y": 0.5,
     "customdata": ["doc-9"]},
]


def test_selected_ids_from_customdata_in_order():
    lasso = [{"type": "lasso", "x": [0, 4, 4], "y": [0, 0, 3]}]
    assert selected_ids(event(POINTS, lasso=lasso)) == ["doc-7", "doc-2", "doc-9"]
    assert selected_ids(event(POINTS + [POINTS[0]])) == ["doc-7", "doc-2", "doc-9"]  # no repeats


def test_selected_ids_accepts_objects_scalars_and_nothing():
    as_object = SimpleNamespace(selection=SimpleNamespace(points=POINTS[:2], box=[], lasso=[]))
    assert selected_ids(as_object) == ["doc-7", "doc-2"]
    assert selected_ids(event([{"point_index": 1, "customdata": 42}])) == ["42"]
    assert selected_ids(event([{"point_index": 1, "customdata": np.array(["d1"])}])) == ["d1"]
    assert selected_ids(event([{"point_index": 1}])) == []  # no customdata: no id
    assert selected_ids(None) == [] and selected_ids({}) == []
    assert selected_ids({"selection": {"points": [], "box": [], "lasso": []}}) == []


def test_clicked_id_only_for_a_single_point():
    assert clicked_id(event(POINTS[1:2])) == "doc-2"
    assert clicked_id(SimpleNamespace(selection={"points": POINTS[2:], "box": []})) == "doc-9"
    assert clicked_id(event(POINTS)) is None
    assert clicked_id(event([])) is None and clicked_id(None) is None
    box = [{"type": "rect", "x": [0, 2], "y": [0, 3]}]
    assert clicked_id(event(POINTS[:1], box=box)) is None  # an area holding one point


def test_highlight_all_words_any_case():
    texts = ["Sepsis in the ICU", "Heart failure and SEPSIS", "Cardiac arrest", ""]
    assert highlight(texts, "sepsis").tolist() == [True, True, False, False]
    assert highlight(texts, "  SEPSIS   heart ").tolist() == [False, True, False, False]
    assert highlight(texts, "").tolist() == [True] * 4
    assert highlight(texts, "   ").tolist() == [True] * 4
    assert highlight(texts, "sepsis stroke").tolist() == [False] * 4
    mask = highlight([], "x")
    assert mask.dtype == bool and mask.shape == (0,)
