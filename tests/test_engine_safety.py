"""A checkpoint that would run code while loading is refused, and the code never runs."""
import os
import pickle

import pytest
import torch
from variants import TOKENIZER

from scimult_app.engine.safe_load import load_pickle
from scimult_app.errors import UnsafeCheckpointError
from scimult_app.models import open_model

# plain pickle.dump writes protocol 4; torch warns about it before refusing the file
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")


class SystemPayload:
    """Unpickling this calls os.system (pickled as posix.system)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class ExecPayload:
    """Unpickling this calls builtins.exec."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


PAYLOADS = {"system": (SystemPayload, ("posix.system", "os.system")),
            "exec": (ExecPayload, ("builtins.exec",))}


def write(path, payload, how):
    checkpoint = {"model_dict": {"question_model.encoder.x": torch.ones(2)},
                  "encoder_params": {"moe_type": "mod2:attn", "hook": payload}, "epoch": 1}
    if how == "zip":
        torch.save(checkpoint, path)
    else:
        with open(path, "wb") as out:
            pickle.dump(checkpoint, out)
    return path


@pytest.mark.parametrize("how", ["zip", "legacy"])
@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_payload_is_live(tmp_path, kind, how):
    """Control: plain unpickling really runs the payload (so the refusal below means something)."""
    payload_class, _ = PAYLOADS[kind]
    control = tmp_path / "control-marker"
    path = write(tmp_path / "control.ckpt", payload_class(control), how)
    if how == "zip":
        torch.load(path, weights_only=False)
    else:
        with open(path, "rb") as handle:
            pickle.load(handle)
    assert control.exists()


@pytest.mark.parametrize("how", ["zip", "legacy"])
@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_code_running_checkpoint_is_refused(tmp_path, kind, how):
    payload_class, names = PAYLOADS[kind]
    marker = tmp_path / "marker"
    path = write(tmp_path / f"evil-{how}.ckpt", payload_class(marker), how)
    with pytest.raises(UnsafeCheckpointError) as refused:
        load_pickle(path)
    message = str(refused.value)
    assert str(path) in message
    assert any(f"`{name}`" in message for name in names), message
    assert not marker.exists()
    # through the full loader as well
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        open_model(path, TOKENIZER)
    assert not marker.exists()


def test_nested_payload_in_an_otherwise_valid_checkpoint(tmp_path, fixture_dir):
    """Copy the fixture's contents, add a payload deep inside encoder_params."""
    data = load_pickle(fixture_dir / "model.ckpt")
    marker = tmp_path / "marker"
    data["encoder_params"] = {**data["encoder_params"], "extra": [{"deep": SystemPayload(marker)}]}
    path = tmp_path / "scimult_moe.ckpt"
    torch.save(data, path)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        open_model(path, TOKENIZER)
    assert not marker.exists()
