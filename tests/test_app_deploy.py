"""Deploying for others: SCIMULT_APP_ALLOW_PATHS=0 hides every path input and the library refuses
server paths; uploads are size-checked before they are read; the upload limit is stated."""
import io
from pathlib import Path

import pytest
import tomllib
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit.testing.v1 import AppTest

from scimult_app.errors import ScimultError
from scimult_app.models import open_model
from scimult_app.paths import cache_dir
from scimult_app.services.uploads import save_upload

TIMEOUT = 240
ROOT = Path(__file__).resolve().parents[1]


def app() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sidebar_only():
    from views._shared import model_sidebar
    model_sidebar()


def upload_kind(at: AppTest) -> None:
    """Open the sidebar on "Upload checkpoint" (as if picked, the model unchanged)."""
    from scimult_app.models import default_model
    at.session_state["model_kind"] = "Upload checkpoint"
    at.session_state["_model_choice_shown"] = (default_model(), None)


def by_label(widgets, label):
    matches = [widget for widget in widgets if widget.label == label]
    assert matches, f"no widget labelled {label!r}; have {[w.label for w in widgets]}"
    return matches[0]


def test_library_refuses_server_paths_when_switched_off(monkeypatch, fixture_dir):
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "0")
    with pytest.raises(ScimultError, match="model.ckpt: server paths are switched off.*"
                                           "SCIMULT_APP_ALLOW_PATHS=0.*Upload the checkpoint"):
        open_model(fixture_dir / "model.ckpt", fixture_dir / "tokenizer")
    uploads = cache_dir() / "uploads"
    with pytest.raises(ScimultError, match="server paths are switched off"):
        open_model(uploads / ".." / ".." / "x.ckpt")  # no way out of the uploads folder
    with pytest.raises(ScimultError, match="Upload the tokenizer"):
        open_model("minilm", fixture_dir / "tokenizer")
    checkpoint = save_upload(io.BytesIO((fixture_dir / "model.ckpt").read_bytes()), "m.ckpt")
    vocab = save_upload(io.BytesIO((fixture_dir / "tokenizer" / "vocab.txt").read_bytes()), "vocab.txt")
    assert open_model(checkpoint, vocab).num_experts == 3  # the app's own uploads still open
    assert open_model("minilm").name == "minilm"


def test_switched_off_app_has_no_path_inputs_and_loads_uploads(monkeypatch, fixture_dir):
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "0")
    at = app()
    assert by_label(at.sidebar.radio, "Model source").options == ["Built-in", "Upload checkpoint"]
    at = AppTest.from_function(sidebar_only, default_timeout=TIMEOUT)
    upload_kind(at)
    at.run()  # the sidebar alone: AppTest reruns only the page, not app.py's sidebar
    assert not at.exception, [e.value for e in at.exception]
    assert not [t for t in at.text_input if "Checkpoint" in t.label or "Tokenizer" in t.label]
    assert any("Up to 2048 MB" in c.value and "best given by path" not in c.value
               for c in at.sidebar.caption)
    by_label(at.file_uploader, "Checkpoint file").upload(
        "shared.ckpt", (fixture_dir / "model.ckpt").read_bytes())
    by_label(at.file_uploader, "Tokenizer vocab.txt (optional)").upload(
        "vocab.txt", (fixture_dir / "tokenizer" / "vocab.txt").read_bytes())
    by_label(at.button, "Load model").click().run()
    assert not at.exception, [e.value for e in at.exception]
    choice = at.session_state["model_choice"]
    assert all(Path(path).is_relative_to(cache_dir() / "uploads") for path in choice)
    shown = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    shown.session_state["model_choice"] = choice
    shown.run()
    assert not shown.error and not shown.exception
    summary = " ".join(c.value for c in shown.sidebar.caption)
    assert "shared.ckpt" in summary and "3 experts" in summary


def test_a_typed_path_is_refused_in_the_app_when_switched_off(monkeypatch, fixture_dir):
    monkeypatch.setenv("SCIMULT_APP_ALLOW_PATHS", "0")
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.session_state["model_choice"] = (str(fixture_dir / "model.ckpt"), str(fixture_dir / "tokenizer"))
    at.run()
    assert any("server paths are switched off" in e.value for e in at.error)


def test_paths_are_offered_by_default():
    at = app()
    assert by_label(at.sidebar.radio, "Model source").options == [
        "Built-in", "Checkpoint path", "Upload checkpoint"]
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    upload_kind(at)
    at.run()
    assert any("best given by path" in c.value for c in at.sidebar.caption)
    assert by_label(at.text_input, "Tokenizer folder (vocab.txt)")


def test_corpus_upload_is_size_checked_before_it_is_read(monkeypatch):
    from scimult_app.corpus import readers
    monkeypatch.setattr(readers, "MAX_BYTES", 100)

    def never(self):
        raise AssertionError("the upload was read before its size was checked")
    monkeypatch.setattr(UploadedFile, "getvalue", never)
    at = app()
    at.switch_page("views/corpora.py")
    at.run()
    by_label(at.file_uploader, "CSV, TSV, JSONL, JSON, BibTeX, RIS, PDF or plain text").upload(
        "big.csv", b"title,abstract\n" + b"a,b\n" * 100).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("big.csv is 0.0 MB; the limit is 0.0001 MB" in e.value for e in at.error)


def test_upload_limit_fits_the_machine():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert 1400 <= config["server"]["maxUploadSize"] <= 2048  # a released checkpoint fits
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "streamed to disk" not in readme
    assert "SCIMULT_APP_ALLOW_PATHS=0" in readme and "best given by path" in readme
