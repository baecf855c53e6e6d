"""Services: background jobs, the byte-bounded vector memo and content-addressed uploads."""
import io
import threading

import numpy as np
import pytest

from scimult_app.services.jobs import JobRegistry
from scimult_app.services.memo import VectorMemo
from scimult_app.services.uploads import save_upload


def test_job_reports_progress_and_result():
    registry = JobRegistry()
    release = threading.Event()

    def work(job):
        job.report(1, 4, "first")
        release.wait(60)
        job.report(4, 4)
        return "done"

    job = registry.start("a", work, "Counting")
    assert registry.start("a", lambda job: "other") is job  # a running key is not started twice
    release.set()
    assert job.wait(60) and job.succeeded and job.result == "done"
    assert (job.done, job.total, job.fraction) == (4, 4, 1.0)
    assert "Counting: 4/4" in job.status_line()


def test_job_cancel_and_error_are_reported():
    registry = JobRegistry()
    started = threading.Event()

    def endless(job):
        started.set()
        for step in range(10**9):
            job.report(step, 10**9)

    job = registry.start("loop", endless)
    assert started.wait(60)
    job.cancel()
    assert job.wait(60) and job.error == "cancelled" and not job.succeeded
    failing = registry.start("fail", lambda job: 1 / 0)
    assert failing.wait(60) and failing.error.startswith("ZeroDivisionError")
    again = registry.start("fail", lambda job: 2, restart=True)
    assert again is not failing and again.wait(60) and again.result == 2


def test_memo_evicts_least_recently_used_by_bytes():
    memo = VectorMemo(max_bytes=3 * 400)
    arrays = {name: np.full((10, 10), i, dtype=np.float32) for i, name in enumerate("abcd")}
    for name in "abc":
        memo.put(name, arrays[name])
    assert memo.get("a") is arrays["a"]  # a is now the most recently used
    memo.put("d", arrays["d"])
    assert "b" not in memo and {"a", "c", "d"} <= {k for k in "abcd" if k in memo}
    assert memo.bytes == 3 * 400
    memo.put("huge", np.zeros((100, 100), dtype=np.float32))
    assert "huge" not in memo and memo.bytes <= memo.max_bytes


def test_uploads_are_content_addressed(tmp_path):
    first = save_upload(io.BytesIO(b"model one"), "model.ckpt", tmp_path)
    second = save_upload(io.BytesIO(b"model two"), "model.ckpt", tmp_path)
    same = save_upload(io.BytesIO(b"model one"), "other name.ckpt", tmp_path)
    assert first != second and first.read_bytes() == b"model one"
    assert second.read_bytes() == b"model two"
    assert same.parent == first.parent and same.name == "other name.ckpt"
    assert not list(tmp_path.rglob("*.part"))


def test_upload_failure_leaves_nothing(tmp_path):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        save_upload(Broken(b"x"), "model.ckpt", tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
