"""export.py: a run's generators as ONNX graphs that onnxruntime runs as PyTorch does, and as safetensors weights."""

import json

import numpy as np
import pytest
import torch

from instagan.models import networks
from instagan.translator import Translator
from tests.test_cli import run
from tests.test_networks import make_input

ort = pytest.importorskip("onnxruntime", reason="the export extra is not installed: pip install -e '.[export]'")
pytest.importorskip("onnx", reason="the export extra is not installed: pip install -e '.[export]'")


def test_onnx_generators_run_in_onnxruntime_as_in_pytorch(tiny_run, tmp_path):
    out = run("export.py", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--out", tmp_path / "exported")
    assert "G_A.onnx" in out.stdout
    info = json.loads((tmp_path / "exported" / "export.json").read_text())
    assert info["files"] == {"G_A": "G_A.onnx", "G_B": "G_B.onnx"} and info["size"] == [32, 32]
    assert info["architecture"]["ngf"] == 4 and "at least one mask channel" in info["input"]
    model = Translator.from_checkpoint(tiny_run, device="cpu").model
    for name in ("G_A", "G_B"):
        step = networks.TranslationStep(getattr(model, f"net{name}").eval())
        session = ort.InferenceSession(str(tmp_path / "exported" / f"{name}.onnx"))
        cases = [
            make_input(batch=1, n=1, size=32, empty={(0, 0)}),  # no instance: returned as it is
            make_input(batch=1, n=1, size=32),  # one instance
            make_input(batch=3, n=5, size=32, empty={(1, 3), (1, 4), (2, 1), (2, 2), (2, 3), (2, 4)}),  # several, padded
            make_input(batch=2, n=8, size=48),  # another size and more instances than the export's example
        ]
        for x in cases:
            with torch.no_grad():
                expected = step(x).numpy()
            got = session.run(None, {"x": x.numpy()})[0]
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        empty = cases[0].numpy()
        assert np.array_equal(session.run(None, {"x": empty})[0], empty)
    # the exported step is the model's: a one-step translation by the project gives the same image
    x = make_input(batch=1, n=2, size=32)
    model.set_input({"A": x[:, :3], "A_segs": x[:, 3:], "A_paths": ["x.png"]})
    translated = model.translate()[0]
    got = ort.InferenceSession(str(tmp_path / "exported" / "G_A.onnx")).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got[:, :3], translated.translated.numpy(), atol=1e-4, rtol=0)


def test_safetensors_weights_rebuild_the_generators(tiny_run, tmp_path):
    safetensors = pytest.importorskip("safetensors.torch", reason="pip install -e '.[export]'")
    run("export.py", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--format", "safetensors", "--out", tmp_path / "w")
    info = json.loads((tmp_path / "w" / "export.json").read_text())
    model = Translator.from_checkpoint(tiny_run, device="cpu").model
    rebuilt = networks.define_G(3, 3, info["architecture"]["ngf"], "set", n_blocks=info["architecture"]["n_blocks"])
    rebuilt.load_state_dict(safetensors.load_file(tmp_path / "w" / "G_A.safetensors"))
    x = make_input(batch=2, n=3, size=32)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model.netG_A.eval()(x))
    again = run("export.py", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--format", "safetensors", "--out",
                tmp_path / "w")  # fmt: skip
    assert again.returncode == 0 and sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "G_A.safetensors", "G_B.safetensors", "export.json"]  # fmt: skip


def test_export_errors_are_one_line(tmp_path):
    missing = run("export.py", "--name", "nothing", "--checkpoints_dir", tmp_path, check=False)
    assert (
        missing.returncode == 1 and "Traceback" not in missing.stderr and "check --name and --checkpoints_dir" in missing.stderr
    )
