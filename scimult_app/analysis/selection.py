"""The map's interaction logic: ids from a plotly selection event, clicks, colour, highlight."""
from __future__ import annotations

import numpy as np


def _get(thing, name: str, default=None):
    if thing is None:
        return default
    if isinstance(thing, dict):
        return thing.get(name, default)
    try:
        return thing[name]
    except (KeyError, TypeError, IndexError):
        return getattr(thing, name, default)


def _point_id(point) -> str | None:
    data = _get(point, "customdata")
    if isinstance(data, (list, tuple, np.ndarray)):
        data = data[0] if len(data) else None
    return None if data is None else str(data)


def selected_ids(event) -> list[str]:
    """Ids (customdata[0]) of the selected points, in order, without repeats.

    Point indices count within each trace (one trace per colour group), so only customdata
    identifies a paper. Accepts a dict or an object with `.selection`; None gives [].
    """
    points = _get(_get(event, "selection"), "points") or []
    ids = (_point_id(point) for point in points)
    return list(dict.fromkeys(i for i in ids if i is not None))


def clicked_id(event) -> str | None:
    """The paper to open: the one point of a selection that holds exactly one, else None.

    A click on a point (zoom or pan mode) selects just that point, and the event still carries
    the box or lasso drawn earlier, so the area says nothing about how the point was chosen:
    one point, by a click or inside a box or lasso drawn around it, opens it; several list.
    (In box and lasso mode Streamlit's chart forwards no plain clicks, so drawing around one
    point is how to open it there.)
    """
    ids = selected_ids(event)
    return ids[0] if len(ids) == 1 else None


def colour_column(requested: str, years: list) -> tuple[str, str | None]:
    """The column to colour the map by, and a note when the request cannot be honoured.

    Colour by year on papers without years would draw nothing: fall back to the label.
    """
    if requested == "year" and not any(_has_year(year) for year in years):
        return "label", "No paper of this corpus has a year, so the map is coloured by label."
    return requested, None


def _has_year(year) -> bool:
    if year is None or isinstance(year, bool):
        return False
    try:
        return not np.isnan(float(year))
    except (TypeError, ValueError):
        return False


def highlight(texts: list[str], query: str) -> np.ndarray:
    """True where a text holds every word of the query (any case); an empty query marks all."""
    words = (query or "").casefold().split()
    lowered = [(text or "").casefold() for text in texts]
    return np.array([all(word in text for word in words) for text in lowered], dtype=bool)


def _inside_polygon(points: np.ndarray, xs: list[float], ys: list[float]) -> np.ndarray:
    """Even-odd rule, vectorised over the points."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    count = len(xs)
    for i in range(count):
        x1, y1, x2, y2 = xs[i], ys[i], xs[(i + 1) % count], ys[(i + 1) % count]
        if y1 == y2:
            continue
        crosses = (y1 > y) != (y2 > y)
        at = (x2 - x1) * (y - y1) / (y2 - y1) + x1
        inside ^= crosses & (x < at)
    return inside


def rows_in_region(event, coords: np.ndarray) -> np.ndarray | None:
    """Rows of `coords` inside the event's boxes and lassos (any of them), in order; None when
    the event has no box or lasso. This finds every point in the area, drawn or not, so a
    density map's selection lists all the papers there."""
    selection = _get(event, "selection")
    boxes = _get(selection, "box") or []
    lassos = _get(selection, "lasso") or []
    if not boxes and not lassos:
        return None
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    chosen = np.zeros(len(coords), dtype=bool)
    for box in boxes:
        xs, ys = _get(box, "x") or [], _get(box, "y") or []
        if len(xs) >= 2 and len(ys) >= 2:
            chosen |= ((coords[:, 0] >= min(xs)) & (coords[:, 0] <= max(xs))
                       & (coords[:, 1] >= min(ys)) & (coords[:, 1] <= max(ys)))
    for lasso in lassos:
        xs, ys = list(_get(lasso, "x") or []), list(_get(lasso, "y") or [])
        if len(xs) >= 3 and len(xs) == len(ys):
            chosen |= _inside_polygon(coords, xs, ys)
    return np.flatnonzero(chosen)
