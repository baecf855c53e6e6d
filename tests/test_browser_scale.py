"""A 10,000-paper corpus in a real browser: the app opens it, draws its map and answers a search.

Before the server starts, the test stores the corpus (streamed into the corpus store) and its
vector sets for the tiny reference fixture model, written with the library exactly as the
embedding job leaves them (ids, content hashes, one memory-mapped segment). To keep the test
within minutes on a shared 2-core machine the stored vectors are seeded random unit vectors
(topic centres plus noise), not model output: what is tested here is that the app opens a big
corpus's vectors instead of embedding it, draws the map of 10,000 papers (UMAP fitted on a
2,000-paper sample, the rest placed by their nearest sampled papers, computed with the library
before the server starts, under the key the Map page uses) and ranks them for a query it embeds
itself. The job that computes real vectors is tested in test_embedding_job.py, the Map page
computing a big map itself in test_app_scale.py.
"""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.test_browser import (
    CHROMIUM,
    LAUNCH_ARGS,
    ROOT,
    _free_port,
    assert_no_exception,
    wait_until_idle,
)

CORPUS = "Ten thousand papers"
PAPERS = 10_000
FIT_SAMPLE = 2_000
FIXTURE = ROOT / "tests" / "fixtures" / "scimult_moe_attn_tiny"
TOPICS = ["sepsis and septic shock in intensive care", "coral reef bleaching under warming",
          "graph neural networks for molecules", "heart failure and assist devices",
          "soil microbes under drought", "transformer language models for biomedicine"]


def papers():
    from scimult_app.corpus.documents import Document
    rng = np.random.default_rng(0)
    for start in range(0, PAPERS, 2000):
        yield [Document(id=f"t{i}", title=f"{TOPICS[i % 6].capitalize()}: study {i}",
                        abstract=f"Study {i} of {TOPICS[i % 6]} in {int(rng.integers(10, 900))} "
                                 "cases.", year=1995 + i % 30, labels=[TOPICS[i % 6].split()[0]])
               for i in range(start, min(PAPERS, start + 2000))]


def prepare(cache: Path) -> None:
    """The corpus and its search and link vector sets, as the app's job would leave them."""
    from scimult_app.corpus.store import CorpusStore
    from scimult_app.models import open_model
    from scimult_app.services import embedding_job
    from scimult_app.vectors.store import content_hash
    store = CorpusStore(cache / "corpora")
    store.save_stream(CORPUS, papers(), source="browser test")
    docs = store.load(CORPUS)
    loaded = open_model(FIXTURE / "model.ckpt", FIXTURE / "tokenizer")
    cut = min(loaded.max_length, loaded.config.max_positions)
    hashes = [content_hash(doc.model_input(), cut) for doc in docs]
    rng = np.random.default_rng(1)
    dim = loaded.config.hidden_size
    centres = rng.standard_normal((6, dim)).astype(np.float32)
    for expert in ("search", "link"):  # link last: `vectors` are the map's below
        vectors = centres[np.arange(PAPERS) % 6] + 0.5 * rng.standard_normal(
            (PAPERS, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        vector_set = embedding_job.open_set(store, CORPUS, loaded, expert, "candidate",
                                            cache / "vectors")
        vector_set.append([doc.id for doc in docs], hashes, vectors)
        assert embedding_job.missing_papers(vector_set, docs, cut) == 0
    # the map the Map page would compute (a UMAP fitted on a sample, the rest placed by it),
    # computed here under the page's key so that the server only opens it on a busy machine
    from scimult_app.analysis.projection import cached_project_keyed
    key = embedding_job.map_key(store, [CORPUS], loaded.fingerprint, "link")
    cached_project_keyed(vectors, key, metric="cosine", sample=FIT_SAMPLE)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    cache = tmp_path_factory.mktemp("cache-10k")
    prepare(cache)
    port = _free_port()
    env = dict(os.environ, SCIMULT_APP_CACHE=str(cache), SCIMULT_APP_BUILD_DEMO="0",
               SCIMULT_APP_MAP_SAMPLE=str(FIT_SAMPLE))
    log_path = tmp_path_factory.mktemp("server-10k") / "streamlit.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not answer on {url}; see {log_path}")
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=LAUNCH_ARGS)
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(120_000)
        yield tab
        browser.close()


def test_ten_thousand_papers_map_and_search(server, page):
    page.goto(server)
    wait_until_idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Checkpoint path", exact=True).click()
    wait_until_idle(page)
    sidebar.get_by_role("textbox", name="Checkpoint (.ckpt) or Hugging Face folder").fill(
        str(FIXTURE / "model.ckpt"))
    sidebar.get_by_role("textbox", name="Tokenizer folder (vocab.txt)").fill(str(FIXTURE / "tokenizer"))
    sidebar.get_by_role("button", name="Load model").click()
    wait_until_idle(page)
    assert_no_exception(page, "load the fixture model")
    for _attempt in range(5):  # a rerun can close the list just opened: open it again
        sidebar.get_by_role("combobox", name="Corpus", exact=True).click()
        option = page.get_by_role("option", name=CORPUS)
        try:
            option.wait_for(timeout=20_000)
            option.click()
            break
        except Exception:
            page.keyboard.press("Escape")
            wait_until_idle(page)
    wait_until_idle(page)
    assert sidebar.get_by_role("combobox", name="Corpus", exact=True).input_value() == CORPUS

    sidebar.get_by_role("link", name="Map").click()
    wait_until_idle(page, timeout=600)
    assert_no_exception(page, "map of 10,000 papers")
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "10,000 papers" in body and "shading counts every paper" in body, body[:2000]
    assert "fitted on a random sample of 2,000 of the 10,000 papers" in body
    assert "Embedding" not in body  # opened from disk, not embedded again

    sidebar.get_by_role("link", name="Search").click()
    wait_until_idle(page)
    box = page.get_by_label("Query", exact=True)
    box.fill("sepsis and septic shock in intensive care")
    box.press("Enter")
    wait_until_idle(page, timeout=240)
    assert_no_exception(page, "search 10,000 papers")
    assert page.get_by_text("Top 10 of 10000 papers").count() == 1
    assert page.locator("text=score").count() >= 10
