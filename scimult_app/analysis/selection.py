"""The map's interaction logic: ids from a plotly selection event, clicks, text highlight."""
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
    """The id of a single clicked point; None for no point, several, or a box/lasso area."""
    selection = _get(event, "selection")
    if _get(selection, "box") or _get(selection, "lasso"):
        return None
    ids = selected_ids(event)
    return ids[0] if len(ids) == 1 else None


def highlight(texts: list[str], query: str) -> np.ndarray:
    """True where a text holds every word of the query (any case); an empty query marks all."""
    words = (query or "").casefold().split()
    lowered = [(text or "").casefold() for text in texts]
    return np.array([all(word in text for word in words) for text in lowered], dtype=bool)
