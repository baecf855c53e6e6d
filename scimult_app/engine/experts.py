"""The one definition of SciMult's task experts: names, ids and what each was trained for."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expert:
    name: str
    index: int
    scimult_task: str
    title: str
    trained_for: str


EXPERTS: tuple[Expert, ...] = (
    Expert(
        "search", 0, "single-hop-retrieval", "Search",
        "Literature search: a short query on the query side, papers on the candidate side. "
        "Pre-trained on SciRepEval-Search; evaluated on TREC-COVID, SciFact, NFCorpus (nDCG@10).",
    ),
    Expert(
        "link", 1, "multi-hop-retrieval", "Link prediction",
        "Citation / link prediction: a paper on the query side, papers it would cite on the "
        "candidate side. Pre-trained on citation triplets; also the expert SciMult uses for "
        "PMC-Patients patient-to-article and patient-to-patient retrieval.",
    ),
    Expert(
        "classification", 2, "entity-retrieval", "Classification",
        "Paper classification as retrieval: a paper on the query side, label texts "
        "(name [SEP] definition) on the candidate side. Pre-trained on MAPLE.",
    ),
)

EXPERT_NAMES: tuple[str, ...] = tuple(expert.name for expert in EXPERTS)
SIDES: tuple[str, ...] = ("query", "candidate")


def get_expert(name: str) -> Expert:
    """Return the expert called `name`, or raise ValueError listing the valid names."""
    for expert in EXPERTS:
        if expert.name == name:
            return expert
    raise ValueError(f"unknown expert {name!r}; choose one of {', '.join(EXPERT_NAMES)}")


def check_side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; choose query or candidate")
    return side
