import os
import sys
from pathlib import Path

import pytest
import torch

from instagan.options.base_options import usable_cores

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference" / "original_instagan"
SAMPLE_COCO = SHARED / "data" / "shp2gir_coco_sample"

# With pytest-xdist (-n N) each of the N workers, and each command it starts, gets its share of the cores: the tests'
# networks are small, so a step's time is mostly Python and dispatch, which N workers run side by side.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, usable_cores() // WORKERS) if WORKERS > 1 else 2
if WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(THREADS)


def require_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference data lives beside the project at ../shared")
    return path


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(THREADS)


@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory) -> Path:
    """A tiny two-domain shapes data set in the standard layout (32x32, 6 train / 3 test per domain)."""
    from instagan.data.builders.shapes import main

    out = tmp_path_factory.mktemp("shapes")
    main(["--out", str(out), "--size", "32", "--train", "6", "--test", "3", "--max_instances", "4", "--seed", "1"])
    return out


@pytest.fixture(scope="module")
def tiny_run(shapes_root, tmp_path_factory) -> Path:
    """A run trained for one epoch on ``shapes_root`` (ngf = ndf = 4, one block, 32x32), one per test module:
    its folder checkpoints/tiny."""
    from tests.test_cli import run

    ckpt = tmp_path_factory.mktemp("tiny_run") / "checkpoints"
    run("train.py", "--dataroot", shapes_root, "--name", "tiny", "--checkpoints_dir", ckpt, "--gpu_ids", "-1", "--ngf", "4",
        "--ndf", "4", "--n_blocks", "1", "--num_threads", "0", "--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH",
        "32", "--fineSizeW", "32", "--niter", "1", "--niter_decay", "0", "--display_id", "0", "--seed", "0")  # fmt: skip
    return ckpt / "tiny"
