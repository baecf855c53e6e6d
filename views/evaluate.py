"""Evaluate: judged queries against the corpus; each expert, BM25 and their fusion, scored."""
import hashlib
import json

import streamlit as st

from scimult_app.analysis import evaluation
from scimult_app.analysis.fusion import RRF_K
from scimult_app.analysis.metrics import METRIC_TITLES, METRICS
from scimult_app.analysis.significance import ALPHA, in_words
from scimult_app.corpus.demo import DATA_DIR
from scimult_app.corpus.judgments import (
    QRELS_FORMATS,
    QUERY_FORMATS,
    judgments_from_queries,
    parse_judged_queries,
    parse_qrels,
)
from scimult_app.corpus.readers import decode
from scimult_app.errors import ScimultError
from views._lexical import bm25_index
from views._shared import embed_texts, require_model_and_corpus

DEMO_SETS = {"Demo queries (literature search)": ("queries.jsonl", "qrels.tsv"),
             "Demo patients (patient-to-article)": ("patients.jsonl", "patients_qrels.tsv")}
REPORT_KEY = "evaluation_report"

st.title("Evaluate")
st.write(
    "Judged queries against the corpus: each expert ranks the papers (query text on the query "
    "side, papers on the candidate side), BM25 ranks them by shared words, and reciprocal rank "
    "fusion (RRF) merges BM25 with an expert. Each system gets nDCG@10 (graded), MRR, "
    "recall@100 and P@10, per query and on average.")

embedder, corpus_name, docs = require_model_and_corpus()

source = st.radio("Judged queries", [*DEMO_SETS, "Upload files"], horizontal=True)
if source == "Upload files":
    left, right = st.columns(2)
    with left:
        queries_file = st.file_uploader("Queries file", type=["jsonl", "json", "tsv", "txt", "xml"],
                                        help=f"Accepted: {QUERY_FORMATS}.")
    with right:
        qrels_file = st.file_uploader("Judgments file (qrels)", type=["tsv", "txt", "qrels", "csv"],
                                      help=f"Accepted: {QRELS_FORMATS}. Not needed when the "
                                           "queries file carries 'relevant' lists.")
    if queries_file is None:
        st.info("Upload a queries file and its judgments to evaluate the systems on "
                f"“{corpus_name}”.")
        st.stop()
    files = [(queries_file.name, queries_file.getvalue())]
    if qrels_file is not None:
        files.append((qrels_file.name, qrels_file.getvalue()))
else:
    names = DEMO_SETS[source]
    files = [(name, (DATA_DIR / name).read_bytes()) for name in names]

try:
    queries = parse_judged_queries(decode(*files[0]), files[0][0])
    judgments = (parse_qrels(decode(*files[1]), files[1][0]) if len(files) > 1
                 else judgments_from_queries(queries, files[0][0]))
except ScimultError as error:
    st.error(str(error))
    st.stop()
st.caption(f"{len(queries.texts)} queries ({queries.format}) · judgments for "
           f"{len(judgments.grades)} queries ({judgments.format}) · {len(docs)} papers in "
           f"“{corpus_name}”")
for note in judgments.notes:
    st.caption(f"Note: {note}.")

single = not embedder.loaded.is_moe
defaults = ["search", "bm25", "rrf:bm25+search"] if single else list(evaluation.DEFAULT_SYSTEMS)
left, right = st.columns([4, 1])
with left:
    systems = st.multiselect("Systems", evaluation.system_options(), default=defaults,
                             help="Experts rank with the loaded model; bm25 by shared words; "
                                  "rrf:bm25+EXPERT fuses the two rankings.")
with right:
    rrf_k = int(st.number_input("RRF k", min_value=0, max_value=1000, value=RRF_K,
                                help="Each ranking gives a paper 1 / (k + rank)."))
if single:
    st.caption(f"{embedder.loaded.name} has a single expert: search, link and classification "
               "rank alike, so only search is selected.")
if not systems:
    st.info("Choose at least one system.")
    st.stop()

digest = hashlib.blake2b(b"\x1e".join(content for _, content in files), digest_size=16).hexdigest()
run_key = (embedder.loaded.fingerprint, corpus_name, len(docs), digest, tuple(systems), rrf_k)
stored = st.session_state.get(REPORT_KEY)
if stored is None or stored[0] != run_key:
    def encode(texts, expert, side):
        what = "papers" if side == "candidate" else "queries"
        return embed_texts(embedder, texts, expert, side, f"{len(texts)} {what} ({expert} expert)")

    with st.spinner("Ranking the corpus with each system…"):
        runs = evaluation.run_systems(systems, queries.texts, docs, encode,
                                      embedder.loaded.score_function, rrf_k=rrf_k,
                                      bm25=bm25_index(docs))
        report = evaluation.evaluate(runs, queries.texts, judgments.grades, [d.id for d in docs])
    st.session_state[REPORT_KEY] = stored = (run_key, runs, report)
_, runs, report = stored

st.subheader("Results")
if not report.query_ids:
    st.warning("No query has a relevant judgment, so nothing can be scored. Check that the "
               "judgments use the queries file's ids.")
for line in evaluation.problem_lines(report):
    st.warning(line)
st.caption(f"Mean over {len(report.query_ids)} judged queries · model {embedder.loaded.name} · "
           f"RRF k = {rrf_k} · each system ranks the top 100 papers.")
summary = evaluation.summary_table(report)
st.dataframe(summary.style.format("{:.3f}").highlight_max(axis=0, color="#d5f5e3"),
             width="stretch")

st.subheader("Is the difference real?")
column_a, column_b, column_metric = st.columns(3)
ranked = list(summary.sort_values("nDCG@10", ascending=False).index)
with column_a:
    system_a = st.selectbox("System A", ranked, index=0)
with column_b:
    system_b = st.selectbox("System B", ranked, index=min(1, len(ranked) - 1))
with column_metric:
    metric = st.selectbox("Metric", METRICS, format_func=METRIC_TITLES.get)
if system_a == system_b:
    st.info("Choose two different systems to compare.")
else:
    test = evaluation.compare(report, system_a, system_b, metric)
    words = in_words(system_a, system_b, METRIC_TITLES[metric], test)
    (st.success if test.p_value < ALPHA and test.difference else st.info)(words)
    st.caption("Paired randomization test: each query's two values are swapped at random "
               "(10,000 times, or every way when there are few queries); p is the share of swaps "
               "that give a mean difference at least as large as the one observed.")

st.subheader("Where the systems disagree")
table = evaluation.disagreements(report, queries.texts, "ndcg@10")
st.caption("Per query: each system's nDCG@10 and the rank of its first judged relevant paper "
           "(empty: not in its top 100); the queries with the largest spread come first.")
st.dataframe(table, width="stretch", hide_index=True,
             column_config={"spread": st.column_config.NumberColumn("spread", format="%.3f")})

st.subheader("Export")
one, two, three = st.columns(3)
with one:
    st.download_button("Download per-query CSV",
                       evaluation.per_query_table(report, queries.texts).to_csv(index=False).encode(),
                       "evaluation_per_query.csv", "text/csv")
with two:
    st.download_button("Download metrics JSON",
                       json.dumps(evaluation.as_json(report), indent=2).encode(),
                       "metrics.json", "application/json")
with three:
    run_of = st.selectbox("Run file of", list(runs), label_visibility="collapsed")
    st.download_button("Download TREC run", evaluation.trec_run(runs[run_of], run_of).encode(),
                       f"{evaluation.file_stem(run_of)}.trec", "text/plain")
