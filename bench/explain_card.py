"""Why this match, timed: occlusion of one result card on CPU with a built-in model.

A ~300-token abstract (three demo abstracts joined) against a short query: every sentence
and the title occluded (one embed call), then every query word (one embed call). Prints the
token count, the number of variants and the seconds of each, cold (no embedding cache) and
warm (the same card again, served from the on-disk cache, as on a Streamlit rerun), with
the process CPU seconds beside (on a shared machine the wall time also counts waiting).

    python bench/explain_card.py [--model minilm] [--repeats 3]

A benchmark, not a test: it prints numbers and asserts nothing about time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--query", default="loop diuretic dosing in acute heart failure")
    args = parser.parse_args()
    os.environ.setdefault("SCIMULT_APP_CACHE", tempfile.mkdtemp(prefix="explain-bench-"))

    from scimult_app.analysis.occlusion import explain_paper, explain_query
    from scimult_app.corpus import demo
    from scimult_app.corpus.documents import Document
    from scimult_app.engine.embedder import Embedder
    from scimult_app.models import open_model

    papers = demo.papers()
    doc = Document(id="long", title=papers[0].title,
                   abstract=" ".join(p.abstract for p in papers[:3]))
    cold = Embedder(open_model(args.model), use_cache=False)
    warm = Embedder(open_model(args.model))
    tokens = cold.loaded.tokenizer.count_tokens([doc.model_input()])[0]
    print(f"model {args.model} · {cold.loaded.config.num_layers} layers · threads "
          f"{__import__('torch').get_num_threads()} · paper {tokens} tokens")
    cold.encode(["warm up"], "search", "query")
    for name, embedder in (("cold", cold), ("warm", warm)):
        for repeat in range(args.repeats):
            cpu = time.process_time()
            start = time.perf_counter()
            paper = explain_paper(embedder, args.query, doc, "search")
            middle = time.perf_counter()
            query = explain_query(embedder, args.query, doc.model_input(), "search")
            end = time.perf_counter()
            cpu = time.process_time() - cpu
            print(f"{name} #{repeat + 1}: {len(paper.units)} paper units {middle - start:.2f} s · "
                  f"{len(query.units)} query words {end - middle:.2f} s · card {end - start:.2f} s "
                  f"(cpu {cpu:.2f} s)")
    best = paper.top(1)[0]
    print(f"score {paper.score:.3f}; removing “{best.text[:60]}…” lowers it by {best.delta:.3f}")


if __name__ == "__main__":
    main()
