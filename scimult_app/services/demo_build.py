"""The built-in `demo` model, trained once per server as a background job while `minilm` serves."""
from __future__ import annotations

import os

from scimult_app import builtin
from scimult_app.services.jobs import JOBS, Job

KEY = "demo-build"


def _build(job: Job) -> None:
    builtin.ensure("demo", lambda step, total, task, loss: job.report(step, total))


def demo_build_job() -> Job | None:
    """The running (or finished) demo build; None when it is built or building is switched off."""
    if builtin.is_built("demo") or os.environ.get("SCIMULT_APP_BUILD_DEMO", "1") == "0":
        return JOBS.get(KEY)
    return JOBS.start(KEY, _build, "Training the 3-expert demo model")
