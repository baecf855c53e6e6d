"""End to end in a real browser: `streamlit run app.py` on localhost, driven by headless Chromium.

Visits every page, runs one search, uploads a small CSV corpus, checks that no exception box
appears, and saves a screenshot of each page into docs/screenshots/ (used by the README).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ["", "corpora", "search", "neighbours", "labels", "patients", "map", "experts"]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    port = _free_port()
    env = dict(os.environ, SCIMULT_APP_CACHE=os.environ["SCIMULT_APP_CACHE"])
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not answer on {url} within 90 s; see {log.name}")
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
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        yield tab
        browser.close()


def wait_until_idle(page, settle: float = 1.5, timeout: float = 240) -> None:
    """Wait until the script has stopped running and stays stopped for `settle` seconds."""
    deadline = time.time() + timeout
    idle_since = None
    while time.time() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        if state == "notRunning":
            idle_since = idle_since or time.time()
            if time.time() - idle_since >= settle:
                return
        else:
            idle_since = None
        time.sleep(0.25)
    raise AssertionError(f"the page was still running after {timeout} s")


def assert_no_exception(page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(f"{where}: exception box shown: {boxes.first.inner_text()[:800]}")


def test_every_page_renders(server, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path in PAGES:
        page.goto(f"{server}/{path}")
        page.wait_for_selector('[data-testid="stApp"]')
        wait_until_idle(page)
        assert_no_exception(page, f"/{path}")
        heading = page.locator("h1").first.inner_text()
        assert heading.strip(), f"/{path} shows no title"
        page.screenshot(path=str(SHOTS / f"{path or 'home'}.png"), full_page=False)


def test_search_finds_results(server, page):
    page.goto(f"{server}/search")
    wait_until_idle(page)
    box = page.get_by_label("Query", exact=True)
    box.fill("sepsis and septic shock in the intensive care unit")
    box.press("Enter")
    wait_until_idle(page)
    assert_no_exception(page, "search")
    assert page.get_by_text("Top 10 of").count() == 1
    assert page.locator("text=score").count() >= 10
    page.screenshot(path=str(SHOTS / "search_results.png"))


def test_upload_csv_corpus(server, page, tmp_path):
    csv_file = tmp_path / "reading_list.csv"
    csv_file.write_text(
        "id,title,abstract,year\n"
        "r1,Ventricular assist devices as a bridge,We follow forty patients with advanced heart "
        "failure who received a left ventricular assist device while awaiting transplant.,2021\n"
        "r2,Soil microbes under drought,Drought reshapes soil bacterial communities and slows "
        "nitrogen cycling in temperate grasslands over three seasons.,2020\n")
    page.goto(f"{server}/corpora")
    wait_until_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(csv_file))
    wait_until_idle(page)
    assert_no_exception(page, "corpora upload")
    page.get_by_label("Corpus name").fill("Browser test list")
    page.get_by_label("Corpus name").press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Save corpus").click()
    wait_until_idle(page)
    assert_no_exception(page, "corpora save")
    assert page.get_by_text("Saved “Browser test list” (2 papers)").count() == 1
    page.screenshot(path=str(SHOTS / "corpora_upload.png"))
