"""End to end in a real browser: `streamlit run app.py` on localhost, driven by headless Chromium.

One server for the module (on the suite's private cache, the built-in `minilm`, no demo
training); each test opens its own browser context, which is a session of its own. The tests
check what the pages show (the model summary, which paper a search puts first, each page's
main element), repeat every interaction several times in a row (model, corpus and paper
pickers, map clicks), deep-link into a page of a freshly started server, and run five sessions
at once. Screenshots go to a temporary folder; set SCIMULT_SCREENSHOTS=docs/screenshots to
refresh the README's.

Timeouts are generous and nothing is timed: the machine may be busy.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
               "--disable-dev-shm-usage", "--enable-unsafe-swiftshader"]
MEMO_MB = 1  # a small vector memo, so five sessions must evict within it
TIMEOUT = 300  # seconds for anything the server computes
FIXTURE = ROOT / "tests" / "fixtures" / "scimult_moe_attn_tiny"
QUERY = "sepsis and septic shock in the intensive care unit"

# path: (title, a selector for the page's main element)
PAGES = {
    "": ("SciMult Explorer", '[data-testid="stMetric"]'),
    "corpora": ("Corpora", '[data-testid="stFileUploader"]'),
    "search": ("Search", '[data-testid="stTextInput"]'),
    "neighbours": ("Neighbours", '[data-testid="stPlotlyChart"]'),
    "labels": ("Labels", '[data-testid="stDataFrame"]'),
    "patients": ("Patients", '[data-testid="stMetric"]'),
    "map": ("Map", '[data-testid="stPlotlyChart"]'),
    "experts": ("Experts", '[data-testid="stDataFrame"]'),
    "train": ("Train", '[data-testid="stDataFrame"]'),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """End the server whatever happens: terminate, wait, then kill; never raise."""
    with contextlib.suppress(Exception):
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=60)


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    port = _free_port()
    env = dict(os.environ, SCIMULT_APP_BUILD_DEMO="0", SCIMULT_APP_MEMO_MB=str(MEMO_MB))
    log_dir = Path(tempfile.mkdtemp(prefix="scimult-browser-log-"))
    log_path = log_dir / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + TIMEOUT
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=5).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                pytest.fail(f"streamlit did not answer on {url}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url, log_path)
    finally:
        _stop(process)
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            with contextlib.suppress(Exception):
                chromium.close()


@pytest.fixture
def new_session(browser):
    """Open a fresh browser context (a Streamlit session of its own); all closed at the end."""
    contexts = []

    def open_one():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT * 1000)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


@pytest.fixture(scope="module")
def shots():
    """Where screenshots go: SCIMULT_SCREENSHOTS if set (e.g. docs/screenshots), else a temp dir."""
    wanted = os.environ.get("SCIMULT_SCREENSHOTS")
    if wanted:
        folder = Path(wanted)
        folder = folder if folder.is_absolute() else ROOT / folder
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="scimult-screenshots-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def papers():
    from scimult_app.corpus import demo
    return demo.papers()


# ----------------------------------------------------------------------------- helpers

def wait_until_idle(page, settle: float = 1.5, timeout: float = TIMEOUT) -> None:
    """Wait until the script has stopped running and stays stopped for `settle` seconds."""
    deadline = time.time() + timeout
    idle_since = None
    while time.time() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        if state == "notRunning" and not page.locator('[data-testid="stSpinner"]').count():
            idle_since = idle_since or time.time()
            if time.time() - idle_since >= settle:
                return
        else:
            idle_since = None
        time.sleep(0.25)
    raise AssertionError(f"the page was still running after {timeout} s")


def wait_for(condition, what: str, timeout: float = TIMEOUT):
    """Poll `condition` until it returns something true; fail with `what` after `timeout`."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def assert_no_exception(page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(f"{where}: exception box shown: {boxes.first.inner_text()[:800]}")


def open_app(page, server: Server, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    wait_until_idle(page)
    assert_no_exception(page, f"/{path}")


def title(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def sidebar_text(page) -> str:
    return sidebar(page).inner_text()


def go_to(page, name: str) -> None:
    """Follow the sidebar's navigation link (the session and its state stay)."""
    sidebar(page).locator('[data-testid="stSidebarNav"] a').filter(has_text=name).first.click()
    wait_for(lambda: title(page) in (name, "SciMult Explorer" if name == "Home" else name),
             f"the {name} page")
    wait_until_idle(page)
    assert_no_exception(page, name)


def pick(page, box, option: str) -> None:
    """Choose `option` in a Streamlit selectbox (a combobox): type to filter, click the option."""
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(option[:60])
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_until_idle(page)


def scroll_to_heading(page, name) -> None:
    """Scroll the main area so the heading `name` is at the top of the window."""
    page.get_by_role("heading", name=name).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(1)


def shown_value(box) -> str:
    return box.input_value().strip()


def labelled_selectbox(page, label: str, within=None):
    return (within if within is not None else page).get_by_role("combobox", name=label, exact=True)


def model_picker(page):
    return labelled_selectbox(page, "Built-in model", sidebar(page))


def corpus_picker(page):
    return labelled_selectbox(page, "Corpus", sidebar(page))


# ----------------------------------------------------------------------------- tests
# (this one first: it needs a server that has served no page yet)

def test_deep_link_on_a_fresh_server_shows_the_app_navigation(server, new_session):
    page = new_session()
    for attempt in range(3):  # a deep link, then two refreshes
        if attempt == 0:
            open_app(page, server, "patients")
        else:
            page.reload()
            wait_until_idle(page)
            assert_no_exception(page, "/patients after a refresh")
        assert title(page) == "Patients"
        nav = sidebar(page).locator('[data-testid="stSidebarNav"]').inner_text()
        for name in ("Home", "Corpora", "Search", "Map", "Train"):
            assert name in nav, nav
        assert not re.search(r"\b(app|shared|_shared)\b", nav), nav
        text = sidebar_text(page)
        assert "Model" in text and "Corpus" in text and "minilm" in text, text


def test_every_page_renders_its_content(server, new_session, shots, papers):
    page = new_session()
    for path, (heading, main) in PAGES.items():
        open_app(page, server, path)
        assert title(page) == heading, f"/{path}"
        wait_for(lambda main=main: page.locator(main).count(), f"{main} on /{path}")
        summary = sidebar_text(page)
        assert "minilm" in summary and "cosine score" in summary and "single expert" in summary
        page.screenshot(path=str(shots / f"{path or 'home'}.png"))
        if path == "":
            assert "minilm" in page.locator('[data-testid="stMetric"]').first.inner_text()
            assert str(len(papers)) in page.locator('[data-testid="stMetric"]').nth(2).inner_text()
        if path == "labels":
            assert page.get_by_text("Recall@3").count()
        if path == "patients":
            assert page.get_by_text("PAR recall@10").count()
        if path == "neighbours":
            assert page.get_by_text(re.compile(r"^1\. ")).count()
        if path == "train":
            assert page.get_by_role("button", name="Train", exact=True).count() == 1
        if path == "corpora":
            assert page.locator('input[type="file"]').count()
        if path == "map":  # coloured by cluster: names at the centres, in the legend and a table
            pick(page, labelled_selectbox(page, "Colour by"), "cluster")
            wait_for(lambda: page.get_by_role("heading", name="Clusters").count(), "the clusters")
            assert_no_exception(page, "map coloured by cluster")
            names = wait_for(lambda: page.evaluate(
                "() => (document.querySelector('.js-plotly-plot')?._fullData || [])"
                ".filter(t => t.name === 'cluster names').map(t => t.text.length)[0]"),
                "the cluster names on the map")
            assert names >= 2
            page.locator('[data-testid="stPlotlyChart"]').first.evaluate(
                "e => e.scrollIntoView({block: 'start'})")
            time.sleep(1)
            page.screenshot(path=str(shots / "clusters.png"))
        if path == "experts":  # the animated transition between two experts' maps
            scroll_to_heading(page, "Experts, moving")
            assert page.locator(".updatemenu-button").filter(has_text="Play").count()
            page.screenshot(path=str(shots / "experts_moving.png"))


def expected_search_order(papers, query: str) -> list[str]:
    """The demo papers ranked for `query` by the library itself (minilm, search expert)."""
    from scimult_app.analysis.ranking import scores, top_k
    from scimult_app.engine.embedder import Embedder
    from scimult_app.models import open_model
    embedder = Embedder(open_model("minilm"))
    candidates = embedder.encode([p.model_input() for p in papers], "search", "candidate")
    query_vector = embedder.encode([query], "search", "query")
    indices, _ = top_k(scores(query_vector, candidates, "cosine"), 3)
    return [papers[i].title for i in indices[0]]


def test_search_returns_the_expected_paper_first(server, new_session, shots, papers):
    expected = expected_search_order(papers, QUERY)
    page = new_session()
    open_app(page, server, "search")
    box = page.get_by_label("Query", exact=True)
    box.fill(QUERY)
    box.press("Enter")
    wait_for(lambda: page.get_by_text(re.compile(r"^Top 10 of")).count(), "the search results")
    wait_until_idle(page)
    assert_no_exception(page, "search")
    cards = page.locator('[data-testid="stMarkdownContainer"] strong').all_inner_texts()
    ranked = [text for text in cards if re.match(r"^\d+\. ", text)]
    assert ranked[:3] == [f"{i}. {t}" for i, t in enumerate(expected, 1)], ranked[:5]
    page.screenshot(path=str(shots / "search_results.png"))
    # the first card explains itself: its sentences and the query's words, highlighted
    page.get_by_text("Why this match", exact=True).first.click()
    wait_for(lambda: page.get_by_text(re.compile("Green supports the match")).count(),
             "the first card's explanation")
    wait_until_idle(page)
    assert_no_exception(page, "why this match")
    assert page.locator('[data-testid="stMarkdownContainer"] span[title]').count() >= 2
    scroll_to_heading(page, re.compile(r"^Top 10 of"))
    page.screenshot(path=str(shots / "why_this_match.png"))


@contextlib.contextmanager
def fake_demo_model():
    """The tiny reference MoE checkpoint stands in for a built `demo`, so the built-in picker
    lists two models (building the real demo takes minutes); removed afterwards."""
    from scimult_app import builtin
    target = builtin.folder("demo")
    assert not target.exists(), "a real demo model is in the test cache"
    target.mkdir(parents=True)
    try:
        shutil.copy(FIXTURE / "model.ckpt", target / "model.ckpt")
        shutil.copytree(FIXTURE / "tokenizer", target / "tokenizer")
        yield
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_model_picker_counts_every_click(server, new_session):
    page = new_session()
    with fake_demo_model():
        open_app(page, server)
        for name in ["demo", "minilm", "demo", "minilm", "demo"]:
            pick(page, model_picker(page), name)
            assert shown_value(model_picker(page)) == name
            wait_for(lambda name=name: f"**{name}**" in sidebar(page).inner_html()
                     or f"<strong>{name}</strong>" in sidebar(page).inner_html(),
                     f"the summary of {name}")
            summary = sidebar_text(page)
            assert ("3 experts" in summary) == (name == "demo"), summary
            assert page.locator('[data-testid="stMetric"]').first.inner_text().endswith(name)
        # a checkpoint by path, then back to a built-in, twice
        for _ in range(2):
            sidebar(page).get_by_text("Checkpoint path", exact=True).click()
            wait_until_idle(page)
            sidebar(page).get_by_role("textbox", name="Checkpoint (.ckpt) or Hugging Face folder").fill(
                str(FIXTURE / "model.ckpt"))
            sidebar(page).get_by_role("textbox", name="Tokenizer folder (vocab.txt)").fill(
                str(FIXTURE / "tokenizer"))
            sidebar(page).get_by_role("button", name="Load model").click()
            wait_for(lambda: "model.ckpt" in sidebar_text(page), "the checkpoint's summary")
            wait_until_idle(page)
            assert "3 experts" in sidebar_text(page)
            sidebar(page).get_by_text("Built-in", exact=True).click()
            wait_until_idle(page)
            pick(page, model_picker(page), "minilm")
            wait_for(lambda: "single expert" in sidebar_text(page), "minilm's summary")
        assert_no_exception(page, "model switching")


def make_corpora():
    """Three small corpora in the server's store (one without years); their names."""
    from scimult_app.corpus.documents import Document
    from scimult_app.corpus.store import CorpusStore
    store = CorpusStore()
    topics = {
        "Browser corals": ("Coral reef", "Reef-building corals lose density as the water warms."),
        "Browser graphs": ("Graph kernel", "A linear-time kernel for labelled graphs and trees."),
        "Browser undated": ("Soil microbes", "Drought reshapes soil bacteria in grasslands."),
    }
    for name, (stem, text) in topics.items():
        docs = [Document(id=f"{stem[:4].lower()}-{i}", title=f"{stem} study {i}",
                         abstract=f"{text} Site {i}.",
                         year=None if "undated" in name else 2010 + i, labels=[stem])
                for i in range(6 + len(name) % 3)]
        store.save(name, docs, overwrite=True)
    return list(topics)


def test_corpus_picker_counts_every_click(server, new_session):
    from scimult_app.corpus.store import DEMO_CORPUS, CorpusStore
    names = make_corpora()
    page = new_session()
    open_app(page, server)
    for name in [names[0], names[1], DEMO_CORPUS, names[0], names[2], names[1]]:
        pick(page, corpus_picker(page), name)
        assert shown_value(corpus_picker(page)) == name
        count = len(CorpusStore().load(name))
        metric = page.locator('[data-testid="stMetric"]').nth(2).inner_text()
        assert f"“{name}”" in metric and metric.strip().endswith(str(count)), metric
    go_to(page, "Search")  # the choice follows the session from page to page
    assert shown_value(corpus_picker(page)) == names[1]


def shows_paper(page, paper) -> None:
    """The Neighbours page's paper card (its bold title, no rank) names `paper`."""
    exact = re.compile(rf"^{re.escape(paper.title or paper.id)}$")
    wait_for(lambda: page.locator("strong").filter(has_text=exact).count(), f"the card of {paper.id}")


def test_neighbours_picker_counts_every_pick(server, new_session, shots, papers):
    from views._shared import paper_label
    page = new_session()
    open_app(page, server, "neighbours")
    box = labelled_selectbox(page, "Paper (type to search)")
    for paper in [papers[3], papers[40], papers[77], papers[101], papers[150]]:
        label = paper_label(paper)
        pick(page, box, label)
        assert shown_value(box) == label
        shows_paper(page, paper)
    page.screenshot(path=str(shots / "neighbours.png"))


POINTS_JS = """
() => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd._fullData) return null;
  const size = gd._fullLayout._size, xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  const points = [];
  gd._fullData.forEach(trace => (trace.x || []).forEach((x, i) => points.push({
      id: String(trace.customdata[i][0]),
      px: box.left + size.l + xa.l2p(x), py: box.top + size.t + ya.l2p(trace.y[i])})));
  return points;
}
"""


def isolated_points(page, count: int, gap: float = 14.0) -> list[dict]:
    """`count` points with no other point within `gap` pixels, spread over the map."""
    points = wait_for(lambda: page.evaluate(POINTS_JS), "the map's points")
    lonely = [p for p in points
              if all((p is q) or (p["px"] - q["px"]) ** 2 + (p["py"] - q["py"]) ** 2 > gap ** 2
                     for q in points)]
    assert len(lonely) >= count, f"only {len(lonely)} isolated points"
    step = len(lonely) // count
    return [lonely[i * step] for i in range(count)]


def assert_opened(page, paper) -> None:
    wait_for(lambda: title(page) == "Neighbours", "the Neighbours page after a map click")
    wait_until_idle(page)
    assert_no_exception(page, "neighbours from the map")
    shows_paper(page, paper)


def modebar(page, name: str) -> None:
    page.locator('[data-testid="stPlotlyChart"]').hover()
    page.locator(f'.modebar-btn[data-title="{name}"]').click()


def draw_lasso(page, x: float, y: float, radius: float = 7.0) -> None:
    page.mouse.move(x + radius, y)
    page.mouse.down()
    for step in range(1, 25):
        angle = step / 24 * 6.283
        page.mouse.move(x + radius * __import__("math").cos(angle),
                        y + radius * __import__("math").sin(angle))
    page.mouse.up()


def test_map_opens_neighbours_on_every_click(server, new_session, shots, papers):
    by_id = {p.id: p for p in papers}
    page = new_session()
    open_app(page, server, "map")
    page.screenshot(path=str(shots / "map.png"))
    # three clicks in the default mode, each from the map again in the same session
    for round_number in range(3):
        target = isolated_points(page, 3)[round_number]
        page.mouse.click(target["px"], target["py"])
        assert_opened(page, by_id[target["id"]])
        go_to(page, "Map")
    # lasso mode: a lasso drawn around one point opens it, three times
    for round_number in range(3):
        modebar(page, "Lasso Select")
        target = isolated_points(page, 3)[round_number]
        draw_lasso(page, target["px"], target["py"])
        assert_opened(page, by_id[target["id"]])
        go_to(page, "Map")
    # a box around the left half lists those papers; then a click (zoom mode) on a point of the
    # right half opens it, though the event still carries the box
    for round_number in range(2):
        points = wait_for(lambda: page.evaluate(POINTS_JS), "the map's points")
        xs = sorted(p["px"] for p in points)
        ys = sorted(p["py"] for p in points)
        middle = xs[len(xs) // 2]
        modebar(page, "Box Select")
        page.mouse.move(xs[0] - 5, ys[0] - 5)
        page.mouse.down()
        page.mouse.move(middle, (ys[0] + ys[-1]) / 2, steps=8)
        page.mouse.move(middle, ys[-1] + 5, steps=8)
        page.mouse.up()
        wait_for(lambda: page.get_by_text(re.compile(r"^\d+ selected$")).count(), "the box's list")
        wait_until_idle(page)
        listed = int(page.get_by_text(re.compile(r"^\d+ selected$")).inner_text().split()[0])
        assert listed > 1
        modebar(page, "Zoom")
        right = [p for p in isolated_points(page, 2) if p["px"] > middle + 10]
        right = right or [p for p in isolated_points(page, 6) if p["px"] > middle + 10]
        target = right[round_number % len(right)]
        page.mouse.click(target["px"], target["py"])
        assert_opened(page, by_id[target["id"]])
        go_to(page, "Map")


def test_colour_by_year_without_years_says_so(server, new_session):
    names = make_corpora()
    page = new_session()
    open_app(page, server)
    pick(page, corpus_picker(page), names[2])  # no paper has a year
    go_to(page, "Map")
    colour = labelled_selectbox(page, "Colour by")
    for choice in ["year", "label", "year", "cluster", "year"]:
        pick(page, colour, choice)
        assert_no_exception(page, f"colour by {choice}")
        message = page.get_by_text("has a year, so the map is coloured by label")
        assert message.count() == (1 if choice == "year" else 0)
        traces = wait_for(lambda: page.evaluate(
            "() => document.querySelector('.js-plotly-plot')?._fullData?.length"), "the map")
        assert traces >= 1


def test_five_sessions_at_once(server, new_session, papers, tmp_path):
    """Five sessions on one server, each on its own corpus, page and expert; one uploads a
    corpus meanwhile. No exception, no session sees another's choices, minilm is loaded once,
    and the shared vector memo stays within its bound."""
    from scimult_app.corpus.store import DEMO_CORPUS, CorpusStore
    names = make_corpora()
    plan = [  # corpus, page, expert
        (DEMO_CORPUS, "Search", "Link prediction"),
        (names[0], "Neighbours", "Classification"),
        (names[1], "Map", "Search"),
        (names[2], "Experts", None),
        (DEMO_CORPUS, "Corpora", None),
    ]
    pages = [new_session() for _ in plan]
    for page in pages:
        page.goto(server.url)
    for page, (corpus, _, _) in zip(pages, plan):
        page.wait_for_selector('[data-testid="stApp"]')
        wait_until_idle(page)
        if corpus != DEMO_CORPUS:
            pick(page, corpus_picker(page), corpus)
    # every session moves to its page at once, then acts at once
    for page, (_, where, _) in zip(pages, plan):
        sidebar(page).locator('[data-testid="stSidebarNav"] a').filter(has_text=where).first.click()
    for page, (_, where, _) in zip(pages, plan):
        wait_for(lambda page=page, where=where: title(page) == where, f"the {where} page")
    for page in pages:
        wait_until_idle(page)
    csv_file = tmp_path / "many_users.csv"
    csv_file.write_text("id,title,abstract,year\n" + "".join(
        f"u{i},Upload paper {i},An uploaded abstract about topic {i} and its methods.,{2000 + i}\n"
        for i in range(5)))
    pages[4].locator('input[type="file"]').first.set_input_files(str(csv_file))
    for page, (_, _, expert) in zip(pages[:3], plan[:3]):
        pick(page, labelled_selectbox(page, "Expert"), expert)
    pages[0].get_by_label("Query", exact=True).fill(QUERY)
    pages[0].get_by_label("Query", exact=True).press("Enter")
    wait_until_idle(pages[4])
    pages[4].get_by_label("Corpus name").fill("Many users upload")
    pages[4].get_by_label("Corpus name").press("Enter")
    wait_until_idle(pages[4])
    pages[4].get_by_text("Replace it", exact=True).click()
    wait_until_idle(pages[4])
    pages[4].get_by_role("button", name="Save corpus").click()
    for page in pages:
        wait_until_idle(page)
        assert_no_exception(page, title(page))
    assert pages[4].get_by_text("Saved “Many users upload” (5 papers)").count() == 1
    # each session still shows its own corpus and expert; the upload moved only its own
    for page, (corpus, where, expert) in zip(pages[:4], plan[:4]):
        assert title(page) == where
        assert shown_value(corpus_picker(page)) == corpus, where
        if expert:
            assert shown_value(labelled_selectbox(page, "Expert")) == expert, where
    assert pages[0].get_by_text(re.compile(rf"^Top 10 of {len(papers)} papers · link")).count()
    assert pages[2].get_by_text(
        re.compile(rf"^{len(CorpusStore().load(names[1]))} papers · search expert")).count()
    go_to(pages[4], "Home")  # the uploader's next run: its new corpus is its current one
    assert shown_value(corpus_picker(pages[4])) == "Many users upload"
    assert "“Many users upload”" in pages[4].locator('[data-testid="stMetric"]').nth(2).inner_text()
    for page, (corpus, _, _) in zip(pages[:4], plan[:4]):
        go_to(page, "Home")
        assert shown_value(corpus_picker(page)) == corpus
    log = server.log_text()
    assert len(re.findall(r"loaded model minilm ", log)) == 1, log[-3000:]
    sizes = [(int(used), int(bound)) for used, bound in
             re.findall(r"vector memo: \d+ arrays, (\d+) of (\d+) bytes", log)]
    assert sizes and all(used <= bound == MEMO_MB << 20 for used, bound in sizes), sizes[-5:]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    assert "Traceback" not in plain, plain[plain.find("Traceback"):][:6000]


def grid_rows(page, index: int = 0) -> list[list[str]]:
    """The cells of the `index`-th st.dataframe, read from the grid's accessible table (the
    canvas draws them; glide-data-grid mirrors the visible ones as td elements)."""
    return page.evaluate(
        """(index) => {
          const grid = document.querySelectorAll('[data-testid="stDataFrame"]')[index];
          if (!grid) return [];
          return Array.from(grid.querySelectorAll('tr')).map(
            row => Array.from(row.querySelectorAll('th, td')).map(cell => cell.innerText.trim()));
        }""", index)


def test_evaluate_uploaded_queries_and_qrels_show_the_table(server, new_session, shots, tmp_path):
    from scimult_app.corpus import demo
    chosen = demo.queries()[:5]
    queries_file = tmp_path / "queries.jsonl"
    queries_file.write_text("".join(
        json.dumps({"id": q["id"], "text": q["text"]}) + "\n" for q in chosen))
    qrels_file = tmp_path / "qrels.txt"
    qrels_file.write_text("".join(f"{q['id']} 0 {doc} 1\n" for q in chosen for doc in q["relevant"]))
    page = new_session()
    open_app(page, server, "evaluate")
    assert title(page) == "Evaluate"
    page.get_by_text("Upload files", exact=True).click()
    wait_until_idle(page)
    wait_for(lambda: page.get_by_text("Upload a queries file").count(), "the upload prompt")
    uploads = page.locator('input[type="file"]')
    assert uploads.count() == 2
    uploads.nth(0).set_input_files(str(queries_file))
    wait_until_idle(page)
    page.locator('input[type="file"]').nth(1).set_input_files(str(qrels_file))
    wait_for(lambda: page.get_by_role("heading", name="Results").count(), "the results")
    wait_until_idle(page)
    assert_no_exception(page, "evaluate")
    assert page.get_by_text(f"Mean over {len(chosen)} judged queries").count()
    rows = wait_for(lambda: [r for r in grid_rows(page, 0) if r], "the results table's cells")
    header, body = rows[0], {row[0]: row[1:] for row in rows[1:]}
    assert header[1:] == ["nDCG@10", "MRR", "Recall@100", "P@10"], rows
    assert {"search", "bm25", "rrf:bm25+search"} <= set(body), rows  # minilm: one expert
    for system in ("search", "bm25"):
        assert 0.0 < float(body[system][0]) <= 1.0, rows
    assert page.get_by_role("heading", name="Where the systems disagree").count()
    scroll_to_heading(page, "Results")
    page.screenshot(path=str(shots / "evaluate.png"))
