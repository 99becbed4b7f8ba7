"""The per-data-set scripts, run as written on the shared sample data, with the authors' weight layout."""

import importlib.util
import os
import shutil
import subprocess

import pytest

from tests.conftest import REFERENCE, ROOT, SHARED, require_shared

SETS = {"shp2gir_coco": ("shp2gir_coco_sample", "139"), "pants2skirt_mhp": ("pants2skirt_mhp_sample", "1602")}


def script(name, dataroot, *flags):
    env = dict(os.environ, DATAROOT=str(dataroot))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / name), *map(str, flags)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize("data_set", sorted(SETS))
def test_test_script_applies_original_weights_to_the_sample(data_set, tmp_path):
    folder, stem = SETS[data_set]
    root, ref = require_shared(SHARED / "data" / folder), require_shared(REFERENCE)
    run_dir = tmp_path / "checkpoints" / f"{data_set}_instagan"
    run_dir.mkdir(parents=True)
    for name in ("G_A", "G_B"):
        shutil.copy(ref / "orig_G.pth", run_dir / f"200_net_{name}.pth")  # the original layout, at ngf=8
    script(f"test_{data_set}.sh", root, "--phase", "sample", "--epoch", "200", "--ngf", "8", "--gpu_ids", "-1",
           "--checkpoints_dir", tmp_path / "checkpoints", "--results_dir", tmp_path / "results")  # fmt: skip
    images = tmp_path / "results" / f"{data_set}_instagan" / "sample_200" / "images"
    assert (images / f"{stem}_fake_B_img.png").is_file() and (images / f"{stem}_fake_B_ins0.png").is_file()


def test_train_script_runs_with_the_paper_sizes(tmp_path):
    root = require_shared(SHARED / "data" / "shp2gir_coco_sample")
    script("train_shp2gir_coco.sh", root, "--phase", "sample", "--niter", "1", "--niter_decay", "0", "--ngf", "8",
           "--ndf", "8", "--n_blocks", "1", "--gpu_ids", "-1", "--display_id", "0", "--num_threads", "0",
           "--max_dataset_size", "2", "--checkpoints_dir", tmp_path)  # fmt: skip
    opt = (tmp_path / "shp2gir_coco_instagan" / "train_opt.txt").read_text()
    assert "fineSizeH: 200" in opt and "loadSizeW: 220" in opt
    assert (tmp_path / "shp2gir_coco_instagan" / "1_net_G_A.pth").is_file()


def test_demo_quick_run_has_folders_of_its_own():
    spec = importlib.util.spec_from_file_location("demo_shapes", ROOT / "scripts" / "demo_shapes.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    data, name = demo.folders({}, quick=False)[:2]
    quick_data, quick_name = demo.folders({}, quick=True)[:2]
    assert (data, name) == ("datasets/shapes", "shapes_instagan")  # the full demo's
    # a smoke run never writes the full demo's data set, run (checkpoints/<name>) or results (results/<name>)
    assert quick_data != data and quick_name != name
    moved = {"DEMO_DATA": "d", "DEMO_NAME": "n", "DEMO_CHECKPOINTS": "c", "DEMO_RESULTS": "r"}
    assert demo.folders(moved, quick=True) == demo.folders(moved, quick=False) == ("d", "n", "c", "r")
