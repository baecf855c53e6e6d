"""The map's selection logic on events shaped like Streamlit's plotly selection state."""
from types import SimpleNamespace

import numpy as np

from scimult_app.analysis.selection import clicked_id, colour_column, highlight, selected_ids


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
    assert clicked_id(event(POINTS)) is None  # several points: a list, not a click
    assert clicked_id(event([])) is None and clicked_id(None) is None


def test_a_click_after_a_box_or_lasso_opens_the_point():
    """Plotly keeps the earlier area in the event when a point is then clicked: still a click."""
    box = [{"type": "rect", "x": [0, 2], "y": [0, 3]}]
    lasso = [{"x": [0, 4, 4], "y": [0, 0, 3]}]
    assert clicked_id(event(POINTS, box=box)) is None  # the box itself: three papers listed
    assert clicked_id(event(POINTS[:1], box=box)) == "doc-7"  # then one clicked
    assert clicked_id(event(POINTS, lasso=lasso)) is None
    assert clicked_id(event(POINTS[2:], lasso=lasso)) == "doc-9"
    assert clicked_id(event(POINTS[:1] * 2, lasso=lasso)) == "doc-7"  # one paper twice: one


def test_clicks_in_turn_each_open_their_point():
    opened = [clicked_id(event([point])) for point in POINTS]
    assert opened == ["doc-7", "doc-2", "doc-9"]


def test_colour_by_year_without_years_falls_back_to_label():
    assert colour_column("year", [None, None]) == ("label", colour_column("year", [])[1])
    column, note = colour_column("year", [float("nan"), None])
    assert column == "label" and "no" in note.lower() and "year" in note
    assert colour_column("year", [None, 2020]) == ("year", None)
    assert colour_column("year", [np.float64(2019.0)]) == ("year", None)
    assert colour_column("label", [None]) == ("label", None)
    assert colour_column("cluster", []) == ("cluster", None)


def test_highlight_all_words_any_case():
    texts = ["Sepsis in the ICU", "Heart failure and SEPSIS", "Cardiac arrest", ""]
    assert highlight(texts, "sepsis").tolist() == [True, True, False, False]
    assert highlight(texts, "  SEPSIS   heart ").tolist() == [False, True, False, False]
    assert highlight(texts, "").tolist() == [True] * 4
    assert highlight(texts, "   ").tolist() == [True] * 4
    assert highlight(texts, "sepsis stroke").tolist() == [False] * 4
    mask = highlight([], "x")
    assert mask.dtype == bool and mask.shape == (0,)
