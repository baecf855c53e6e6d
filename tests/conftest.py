"""Shared test setup: a private cache folder, offline Hugging Face, the reference fixture."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# a private cache for the run, removed when the session ends (one given by the caller is kept)
CREATED_CACHE = None
if not os.environ.get("SCIMULT_APP_CACHE"):
    CREATED_CACHE = tempfile.mkdtemp(prefix="scimult-test-cache-")
    os.environ["SCIMULT_APP_CACHE"] = CREATED_CACHE
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("SCIMULT_APP_BUILD_DEMO", "0")  # no background training during tests
os.environ["TRANSFORMERS_OFFLINE"] = "1"

FIXTURE = ROOT / "tests" / "fixtures" / "scimult_moe_attn_tiny"  # a copy of ../shared/fixtures


@pytest.fixture(scope="session", autouse=True)
def remove_created_cache():
    """Delete the temporary cache this run created (about 300 MB: built models, vectors)."""
    yield
    if CREATED_CACHE:
        shutil.rmtree(CREATED_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    if not FIXTURE.is_dir():
        pytest.fail(f"the reference fixture is missing: {FIXTURE}")
    return FIXTURE


@pytest.fixture(scope="session")
def fixture_model(fixture_dir):
    from scimult_app.models import open_model
    return open_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer")


@pytest.fixture(scope="session")
def minilm():
    from scimult_app.models import open_model
    return open_model("minilm")


@pytest.fixture(scope="module")
def papers():
    """The demo corpus (a module may define its own `papers`)."""
    from scimult_app.corpus import demo
    return demo.papers()


@pytest.fixture(scope="module")
def embedder(minilm):
    """An embedder on the built-in minilm (a module may define its own `embedder`)."""
    from scimult_app.engine.embedder import Embedder
    return Embedder(minilm)
