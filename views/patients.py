"""Patients: patient-to-article (PAR) and patient-to-patient (PPR) matching with the link expert."""
import numpy as np
import streamlit as st

from scimult_app.analysis.metrics import mean_metrics
from scimult_app.analysis.ranking import scores, top_k
from scimult_app.corpus import demo
from scimult_app.corpus import readers as ingest
from scimult_app.corpus.documents import Document
from scimult_app.errors import ScimultError
from views._lexical import lexical_toggle, side_by_side
from views._shared import (
    GOLD_MARK,
    corpus_vectors,
    embed_texts,
    paper_picker,
    require_model_and_corpus,
    result_card,
    single_expert_note,
)

METRIC_DEPTH = 100  # MRR looks this deep; recall@10 at 10
EXPERT = "link"  # SciMult evaluates PMC-Patients PAR and PPR with the link-prediction expert

st.title("Patients")
st.write(
    "A patient summary on the query side, articles (PAR) or other patients (PPR) on the "
    "candidate side, through the **link-prediction expert**, as SciMult evaluates PMC-Patients. "
    "The released `scimult_moe_pmcpatients_par.ckpt` is trained for patient-to-article and "
    "`scimult_moe_pmcpatients_ppr.ckpt` for patient-to-patient retrieval; `scimult_moe.ckpt` "
    "does both zero-shot.")
with st.expander("Published PMC-Patients figures (leaderboard, percentages)"):
    st.markdown(
        "| dataset | task | system | MRR | P@10 | nDCG@10 | R@1k |\n|---|---|---|---|---|---|---|\n"
        "| old (June 2023, the paper's) | PAR | SciMult | 64.44 | 22.12 | 28.62 | 69.09 |\n"
        "| old | PAR | BM25 | 48.22 | 9.97 | 15.28 | 30.64 |\n"
        "| old | PPR | SciMult | 25.35 | 6.65 | 22.39 | 83.78 |\n"
        "| old | PPR | BM25 | 22.86 | 4.67 | 18.29 | 69.66 |\n"
        "| new (December 2023) | PAR | SciMult, 1st | 29.89 | 9.35 | 13.79 | 53.71 |\n"
        "| new | PPR | SciMult, 2nd | 25.34 | 6.66 | 22.40 | 83.87 |\n\n"
        "Source: the PMC-Patients leaderboard (pmc-patients.github.io); the two dataset versions "
        "differ a lot. Scale there: PAR 5,959 patients against 1,413,087 articles; PPR 2,812 "
        "against 155,151 patients. The demo below is tiny and says nothing about those numbers.")

embedder, corpus_name, articles = require_model_and_corpus()
single_expert_note(embedder)

source = st.radio("Patients", ["Demo patients", "Paste summaries", "Upload a file"], horizontal=True)
patients: list[dict] = []
if source == "Demo patients":
    patients = demo.patients()
elif source == "Paste summaries":
    pasted = st.text_area("Patient summaries, separated by a blank line", height=180)
    patients = [{"id": f"patient-{i}", "text": block.strip()}
                for i, block in enumerate(pasted.split("\n\n"), 1) if block.strip()]
else:
    upload = st.file_uploader("CSV or JSONL with a 'text' column", type=["csv", "jsonl", "txt"])
    if upload is not None:
        try:
            ingest.check_size(upload.name, upload.size)  # before reading it into memory
            table = ingest.parse_upload(upload.name, upload.getvalue())
            docs = ingest.to_documents(table, ingest.guess_mapping(table), id_prefix="patient")
            patients = [{"id": d.id, "text": d.model_input()} for d in docs]
        except ScimultError as error:
            st.error(str(error))
if not patients:
    st.info("Add at least one patient summary.")
    st.stop()

k = st.slider("Top k", 1, 20, 10)
lexical = lexical_toggle("patients_lexical")
patient_texts = [p["text"] for p in patients]
patient_queries = embed_texts(embedder, patient_texts, EXPERT, "query", f"{len(patients)} patients")
article_vectors = corpus_vectors(embedder, articles, EXPERT, corpus=corpus_name)
patient_candidates = embed_texts(embedder, patient_texts, EXPERT, "candidate",
                                 f"{len(patients)} patients (candidate side)")
score_function = embedder.loaded.score_function
depth = max(k, METRIC_DEPTH)  # metrics are computed at their own depth, not the slider's
par_index, par_scores = top_k(scores(patient_queries, article_vectors, score_function), depth)
ppr_index, ppr_scores = top_k(scores(patient_queries, patient_candidates, score_function), depth,
                              exclude=list(range(len(patients))))
article_ids = [doc.id for doc in articles]
patient_ids = [p["id"] for p in patients]

tasks = {"PAR": ("relevant_articles", par_index, article_ids, "articles"),
         "PPR": ("similar_patients", ppr_index, patient_ids, "patients")}
shown = []
for task, (field, index, ids, kind) in tasks.items():
    if not any(p.get(field) for p in patients):
        continue
    present = set(ids)
    qrels = {p["id"]: [i for i in p.get(field, []) if i in present] for p in patients}
    runs = {p["id"]: [ids[i] for i in index[row]] for row, p in enumerate(patients)}
    result = mean_metrics(runs, qrels, ks=(10,))
    judged = sum(len(p.get(field, [])) for p in patients)
    found = sum(len(v) for v in qrels.values())
    if result["queries"] == 0:
        st.info(f"{task}: none of the {judged} judged {kind} is in “{corpus_name}”, so no "
                f"{task} metric can be computed. Pick the corpus that holds them (the demo "
                "patients are judged against “Demo papers”).")
        continue
    shown.append((task, kind, result, judged, found))
if shown:
    columns = iter(st.columns(2 * len(shown)))
    for task, _, result, _, _ in shown:
        next(columns).metric(f"{task} recall@10", f"{result['recall@10']:.2f}")
        next(columns).metric(f"{task} MRR", f"{result['mrr']:.2f}")
    st.caption(" ".join(
        f"{task}: over the {result['queries']} patients with judged {kind} in “{corpus_name}” "
        f"({found} of {judged} judged ids present; {result['skipped']} patients without any "
        "left out)." for task, kind, result, judged, found in shown)
        + f" Recall@10 counts the first 10 results whatever the slider; MRR looks at the first "
          f"{METRIC_DEPTH}. Gold hits are marked.")
    if embedder.loaded.name == "demo":
        st.caption("The built-in demo model was trained on the demo corpus's citations; it never "
                   "saw these patients.")

patient_docs = [Document(id=p["id"], text=p["text"]) for p in patients]
chosen = paper_picker("Patient", patient_docs, "patient_picker", noun="patient",
                      format_func=lambda patient: f"{patient.id}: {patient.text[:90]}…")
patient = patients[chosen]
st.write(patient["text"])
if lexical:
    st.subheader("Articles: BM25 beside the link expert")
    side_by_side(patient["text"], [article_ids[i] for i in par_index[chosen][:k]], articles, k,
                 EXPERT, gold=set(patient.get("relevant_articles", [])))
left, right = st.columns(2)
with left:
    st.subheader("Articles (PAR)")
    gold = set(patient.get("relevant_articles", []))
    for rank, (i, score) in enumerate(zip(par_index[chosen][:k], par_scores[chosen][:k]), 1):
        result_card(rank, articles[i], float(score), highlight=articles[i].id in gold if gold else None)
with right:
    st.subheader("Similar patients (PPR)")
    gold = set(patient.get("similar_patients", []))
    for rank, (i, score) in enumerate(zip(ppr_index[chosen][:k], ppr_scores[chosen][:k]), 1):
        with st.container(border=True):
            mark = f" {GOLD_MARK}" if patient_ids[i] in gold else ""
            st.markdown(f"**{rank}. {patient_ids[i]}**{mark} · score {float(score):.3f}")
            st.write(patient_texts[i][:300] + ("…" if len(patient_texts[i]) > 300 else ""))
if len(patients) < 2:
    st.caption("Patient-to-patient needs at least two patients.")
elif lexical:
    st.subheader("Similar patients: BM25 beside the link expert")
    others = np.arange(len(patients)) != chosen  # never the patient itself
    side_by_side(patient["text"], [patient_ids[i] for i in ppr_index[chosen][:k]],
                 patient_docs, k, EXPERT,
                 gold=set(patient.get("similar_patients", [])), allowed=others)
