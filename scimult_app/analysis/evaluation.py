"""Judged queries against a corpus: run each system, score it, and build the report.

Systems are named as the CLI and the app name them: an expert (`search`, `link`,
`classification`: query text on the query side, papers on the candidate side, under that
expert), `bm25`, and `rrf:A+B` (reciprocal rank fusion of the named systems' rankings, e.g.
`rrf:bm25+search`). Nothing is dropped quietly: judged ids missing from the corpus, judged
queries missing from the query file, queries with no relevant judgment and empty rankings
are all counted and named in `Report.problems`.

(`scimult_app.training.evaluation` is the held-out evaluation of trained experts; this
module evaluates any corpus with its own judgments.)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from scimult_app.analysis.fusion import RRF_K, reciprocal_rank_fusion
from scimult_app.analysis.lexical import BM25Index
from scimult_app.analysis.metrics import METRIC_TITLES, METRICS, query_metrics
from scimult_app.analysis.ranking import scores, top_k
from scimult_app.analysis.significance import PairedTest, randomization_test
from scimult_app.corpus.documents import Document
from scimult_app.engine.experts import EXPERT_NAMES
from scimult_app.errors import InputError

if TYPE_CHECKING:  # pandas only for the tables: the CLI's start-up stays light
    import pandas as pd

DEFAULT_SYSTEMS = ("search", "link", "classification", "bm25", "rrf:bm25+search")
DEPTH = 100  # ranked papers kept per query: enough for recall@100
# texts, expert, side -> (n, d) vectors
Encode = Callable[[list[str], str, str], np.ndarray]
Ranking = list[tuple[str, float]]  # (document id, score), best first


@dataclass(frozen=True)
class System:
    name: str
    kind: str  # "expert", "bm25" or "rrf"
    parts: tuple[str, ...] = ()


def parse_system(name: str) -> System:
    """A system from its name; an error listing the valid names otherwise."""
    name = name.strip()
    if name in EXPERT_NAMES:
        return System(name, "expert")
    if name == "bm25":
        return System(name, "bm25")
    if name.startswith("rrf:"):
        parts = tuple(part.strip() for part in name[4:].split("+") if part.strip())
        if len(parts) < 2 or any(parse_system(part).kind == "rrf" for part in parts):
            raise InputError(f"system {name!r}: fusion needs two or more plain systems, as in "
                             "'rrf:bm25+search'.")
        return System("rrf:" + "+".join(parts), "rrf", parts)
    raise InputError(f"unknown system {name!r}; choose from {', '.join(EXPERT_NAMES)}, bm25, or "
                     "a fusion such as rrf:bm25+search.")


def uses_experts(names: Sequence[str]) -> bool:
    """Whether any of the systems needs the model (an expert, or a fusion with one)."""
    systems = [parse_system(name) for name in names]
    return any(s.kind == "expert" or (s.kind == "rrf" and any(p != "bm25" for p in s.parts))
               for s in systems)


def system_options() -> list[str]:
    """Every expert, BM25, and BM25 fused with each expert."""
    return [*EXPERT_NAMES, "bm25", *(f"rrf:bm25+{expert}" for expert in EXPERT_NAMES)]


def _dense_runs(expert: str, query_texts: list[str], docs: list[Document], encode: Encode,
                score_function: str, depth: int) -> list[Ranking]:
    candidates = encode([d.model_input() for d in docs], expert, "candidate")
    queries = encode(query_texts, expert, "query")
    runs: list[Ranking] = []
    for start in range(0, len(query_texts), 256):
        matrix = scores(queries[start:start + 256], candidates, score_function)
        indices, values = top_k(matrix, depth)
        runs += [[(docs[i].id, float(v)) for i, v in zip(row_indices, row_values)]
                 for row_indices, row_values in zip(indices, values)]
    return runs


def run_systems(names: Sequence[str], queries: dict[str, str], docs: list[Document],
                encode: Encode | None, score_function: str = "dot", depth: int = DEPTH,
                rrf_k: int = RRF_K, bm25: BM25Index | None = None,
                progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Ranking]]:
    """system name -> query id -> ranking (at most `depth` papers), for every query.

    `encode` embeds texts for the expert systems (not needed for bm25 alone); `bm25` reuses an
    index of the same `docs`.
    """
    systems = [parse_system(name) for name in names]
    query_ids, query_texts = list(queries), list(queries.values())
    computed: dict[str, list[Ranking]] = {}

    def plain(name: str) -> list[Ranking]:
        if name in computed:
            return computed[name]
        if progress:
            progress(f"ranking {len(docs)} papers for {len(query_ids)} queries with {name}")
        if name == "bm25":
            index = bm25 if bm25 is not None else BM25Index([d.model_input() for d in docs])
            computed[name] = [[(docs[i].id, float(v)) for i, v in zip(*index.rank(text, depth))]
                              for text in query_texts]
        else:
            if encode is None:
                raise ValueError(f"system {name} needs an encoder")
            computed[name] = _dense_runs(name, query_texts, docs, encode, score_function, depth)
        return computed[name]

    runs: dict[str, dict[str, Ranking]] = {}
    for system in systems:
        if system.kind == "rrf":
            part_runs = [plain(part) for part in system.parts]
            lists = [[[doc for doc, _ in part[row]] for part in part_runs]
                     for row in range(len(query_ids))]
            rankings = [reciprocal_rank_fusion(row_lists, rrf_k, depth) for row_lists in lists]
        else:
            rankings = plain(system.name)
        runs[system.name] = dict(zip(query_ids, rankings))
    return runs


@dataclass
class Report:
    """Mean and per-query metrics of each system over the judged queries, and what was odd."""
    means: dict[str, dict[str, float]]
    per_query: dict[str, dict[str, dict]]
    query_ids: list[str]  # the evaluated queries: in the query file, with a relevant judgment
    problems: dict = field(default_factory=dict)

    @property
    def system_names(self) -> list[str]:
        return list(self.means)


def evaluate(runs: dict[str, dict[str, Ranking]], queries: dict[str, str],
             judgments: dict[str, dict[str, int]], corpus_ids: Sequence[str]) -> Report:
    """Score every system on the queries that have text and at least one relevant judgment.

    A judged paper missing from the corpus still counts as relevant (never retrieved), as
    trec_eval counts it; problems name such papers.
    """
    known = set(corpus_ids)
    query_ids = [q for q in queries if any(g > 0 for g in judgments.get(q, {}).values())]
    evaluated = set(query_ids)
    problems = {
        "unknown_documents": {q: sorted(d for d in docs if d not in known)
                              for q, docs in judgments.items()
                              if q in queries and any(d not in known for d in docs)},
        "unknown_queries": sorted(q for q in judgments if q not in queries),
        "unjudged_queries": [q for q in queries if q not in evaluated],
        "empty_runs": {},
    }
    means: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict]] = {}
    for name, run in runs.items():
        values = {q: query_metrics([doc for doc, _ in run.get(q, [])], judgments[q])
                  for q in query_ids}
        per_query[name] = values
        means[name] = {metric: float(np.mean([v[metric] for v in values.values()]))
                       if values else 0.0 for metric in METRICS}
        empty = [q for q in query_ids if not run.get(q)]
        if empty:
            problems["empty_runs"][name] = empty
    return Report(means, per_query, query_ids, problems)


def problem_lines(report: Report) -> list[str]:
    """Each kind of problem as one sentence that counts and names it ('' kinds left out)."""
    def some(items: Sequence, limit: int = 10) -> str:
        shown = ", ".join(map(str, items[:limit]))
        return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

    problems, lines = report.problems, []
    unknown_docs = problems.get("unknown_documents", {})
    if unknown_docs:
        pairs = [f"{doc} (query {q})" for q, docs in unknown_docs.items() for doc in docs]
        lines.append(f"{len(pairs)} judged paper id(s) are not in the corpus and count as never "
                     f"retrieved: {some(pairs)}.")
    if problems.get("unknown_queries"):
        items = problems["unknown_queries"]
        lines.append(f"{len(items)} judged query id(s) are not in the queries file and were not "
                     f"evaluated: {some(items)}.")
    if problems.get("unjudged_queries"):
        items = problems["unjudged_queries"]
        lines.append(f"{len(items)} quer{'y has' if len(items) == 1 else 'ies have'} no relevant "
                     f"judgment and {'was' if len(items) == 1 else 'were'} not evaluated: "
                     f"{some(items)}.")
    for name, items in problems.get("empty_runs", {}).items():
        lines.append(f"{name} retrieved nothing for {len(items)} quer"
                     f"{'y' if len(items) == 1 else 'ies'} (scored 0): {some(items)}.")
    return lines


def as_json(report: Report) -> dict:
    """{"systems": {name: {metric: mean, ..., "per_query": {query: {...}}}}, "queries", "problems"}."""
    return {"systems": {name: {**report.means[name], "per_query": report.per_query[name]}
                        for name in report.system_names},
            "queries": len(report.query_ids),
            "problems": report.problems}


def summary_table(report: Report) -> pd.DataFrame:
    """One row per system, one column per metric (titles as people write them)."""
    import pandas as pd
    table = pd.DataFrame.from_dict(report.means, orient="index")[list(METRICS)]
    table.index.name = "system"
    return table.rename(columns=METRIC_TITLES)


def per_query_table(report: Report, queries: dict[str, str] | None = None) -> pd.DataFrame:
    """Long format, one row per system and query: the metrics and the first relevant rank."""
    import pandas as pd
    rows = [{"system": name, "query_id": q, **({"query": queries.get(q, "")} if queries else {}),
             **values}
            for name, by_query in report.per_query.items() for q, values in by_query.items()]
    columns = ["system", "query_id", *(["query"] if queries else []), *METRICS,
               "first_relevant_rank"]
    table = pd.DataFrame(rows, columns=columns)
    table["first_relevant_rank"] = table["first_relevant_rank"].astype("Int64")
    return table


def disagreements(report: Report, queries: dict[str, str], metric: str = "ndcg@10",
                  systems: Sequence[str] | None = None) -> pd.DataFrame:
    """Per query: each system's metric and the rank of its first relevant paper, with the
    spread (best minus worst metric); the queries the systems disagree on most come first."""
    import pandas as pd
    names = list(systems or report.system_names)
    rows = []
    for q in report.query_ids:
        row: dict = {"query_id": q, "query": queries.get(q, "")}
        values = []
        for name in names:
            result = report.per_query[name][q]
            values.append(result[metric])
            row[f"{name} {METRIC_TITLES.get(metric, metric)}"] = result[metric]
            row[f"{name} first relevant rank"] = result["first_relevant_rank"]
        row["spread"] = max(values) - min(values) if values else 0.0
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for name in names:
        table[f"{name} first relevant rank"] = table[f"{name} first relevant rank"].astype("Int64")
    return table.sort_values("spread", ascending=False, kind="stable").reset_index(drop=True)


def compare(report: Report, a: str, b: str, metric: str = "ndcg@10", trials: int = 10_000,
            seed: int = 0) -> PairedTest:
    """Paired randomization test of systems a and b on one metric, over the evaluated queries."""
    return randomization_test([report.per_query[a][q][metric] for q in report.query_ids],
                              [report.per_query[b][q][metric] for q in report.query_ids],
                              trials, seed)


def trec_run(run: dict[str, Ranking], tag: str) -> str:
    """A TREC run file: `qid Q0 docid rank score tag`, one line per ranked paper."""
    tag = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in tag) or "run"
    lines = [f"{q} Q0 {doc} {rank} {score:.6f} {tag}"
             for q, ranking in run.items() for rank, (doc, score) in enumerate(ranking, 1)]
    return "\n".join(lines) + ("\n" if lines else "")


def file_stem(system: str) -> str:
    """A system name safe as a file name: rrf:bm25+search -> rrf_bm25+search."""
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in system)
