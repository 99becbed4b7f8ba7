"""export.py: a run's generators as ONNX graphs that onnxruntime runs as PyTorch does, and as safetensors weights."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from instagan.models import networks
from instagan.translator import Translator
from instagan.util.files import StagedFolder
from tests.conftest import ROOT
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
        step = networks.FixedShapeStep(getattr(model, f"net{name}").eval())
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


def test_safetensors_weights_rebuild_the_generators(tiny_run, shapes_root, tmp_path):
    safetensors = pytest.importorskip("safetensors.torch", reason="pip install -e '.[export]'")
    run("export.py", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--format", "safetensors", "--out", tmp_path / "w")
    info = json.loads((tmp_path / "w" / "export.json").read_text())
    # the run's own options, as its train_opt.json records them: not test.py's defaults or placeholders
    assert info["options"] == json.loads((tiny_run / "train_opt.json").read_text())
    assert info["options"]["loadSizeH"] == 32 and info["options"]["dataroot"] == str(shapes_root)
    assert info["options_from"] == str(tiny_run / "train_opt.json") and info["ins_per"] == 2
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


def export_in(folder, *flags):
    """export.py run from ``folder``, so that its default output lands there."""
    return subprocess.run([sys.executable, str(ROOT / "export.py"), *map(str, flags)], cwd=folder, capture_output=True,
                          text=True)  # fmt: skip


def test_each_format_has_a_folder_of_its_own(tiny_run, tmp_path):
    pytest.importorskip("safetensors.torch", reason="pip install -e '.[export]'")
    common = ["--name", "tiny", "--checkpoints_dir", tiny_run.parent]
    assert export_in(tmp_path, *common).returncode == 0
    onnx = (tmp_path / "exported" / "tiny_latest" / "G_A.onnx").read_bytes()
    weights = export_in(tmp_path, *common, "--format", "safetensors")
    assert weights.returncode == 0 and "exported/tiny_latest_safetensors" in weights.stdout
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["tiny_latest", "tiny_latest_safetensors"]
    assert (tmp_path / "exported" / "tiny_latest" / "G_A.onnx").read_bytes() == onnx  # the ONNX export is untouched
    assert (tmp_path / "exported" / "tiny_latest_safetensors" / "G_B.safetensors").is_file()
    ort.InferenceSession(str(tmp_path / "exported" / "tiny_latest" / "G_A.onnx"))


def test_out_never_replaces_what_export_py_did_not_write(tiny_run, tmp_path):
    common = ["--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--out"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "photo.png").write_bytes(b"not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    for out, says in [(tmp_path / "mine", "is not an export folder written by export.py: choose a new folder or delete it"),
                      (tmp_path / "photo.png", "is not a folder: choose a new folder (export.py writes one)")]:  # fmt: skip
        refused = run("export.py", *common, out, check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == f"error: --out {out} exists and {says}"
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and list((tmp_path / "mine").iterdir())
    assert (tmp_path / "photo.png").read_bytes() == b"not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing renamed, nothing hidden beside them
    # an earlier export is replaced whole by one of its format; one of another format, or with other files, is refused
    run("export.py", *common, tmp_path / "e")
    onnx = (tmp_path / "e" / "G_A.onnx").read_bytes()
    other = run("export.py", *common, tmp_path / "e", "--format", "safetensors", check=False)
    assert other.returncode == 1 and "holds an export in another format (onnx)" in other.stderr
    (tmp_path / "e" / "README.txt").write_text("mine")
    added = run("export.py", *common, tmp_path / "e", check=False)
    assert added.returncode == 1 and "holds files export.py did not write (README.txt)" in added.stderr
    assert (tmp_path / "e" / "G_A.onnx").read_bytes() == onnx and (tmp_path / "e" / "README.txt").read_text() == "mine"
    (tmp_path / "e" / "README.txt").unlink()
    assert run("export.py", *common, tmp_path / "e").returncode == 0
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["G_A.onnx", "G_B.onnx", "export.json"]


def test_export_json_without_train_opt_json_marks_what_is_unknown(tiny_run, tmp_path):
    authors = tmp_path / "checkpoints" / "authors"  # weight files alone, as the authors published theirs
    authors.mkdir(parents=True)
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        (authors / name).write_bytes((tiny_run / name).read_bytes())
    run("export.py", "--name", "authors", "--checkpoints_dir", authors.parent, "--ngf", "4", "--n_blocks", "1", "--out",
        tmp_path / "e")  # fmt: skip
    info = json.loads((tmp_path / "e" / "export.json").read_text())
    assert info["options"] is None and info["size"] is None and info["ins_per"] is None
    assert info["options_from"] == f"{authors / 'train_opt.json'} not found: only the architecture above is known"
    assert info["architecture"]["ngf"] == 4 and info["architecture"]["n_blocks"] == 1


def test_a_commit_that_fails_leaves_the_earlier_export(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "export.json").write_text("{}")
    with pytest.raises(FileNotFoundError), StagedFolder(tmp_path / "e") as staged:
        staged.partial.rmdir()  # the new folder is gone: moving it into place fails after the old one was moved aside
        staged.commit()
    assert (tmp_path / "e" / "export.json").read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["e"]
