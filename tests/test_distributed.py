"""Multi-process training with DistributedDataParallel, on the CPU with the gloo backend, through the real CLI."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.models import networks as N
from instagan.util.cli import UserError
from tests.conftest import ROOT
from tests.test_networks import make_input

pytestmark = pytest.mark.slow

TINY = ["--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--num_threads", "0", "--display_id", "0"]
# the same samples in the same order, no random crop, flip or pool: a 2 x 2 run sees exactly what a 1 x 4 run sees
SAME = ["--serial_batches", "--resize_or_crop", "none", "--no_flip", "--pool_size", "0", "--seed", "0",
        "--ins_max", "2", "--ins_per", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def two_instance_data(tmp_path_factory):
    """8 images per domain, 32x32, each with exactly two instances of different sizes."""
    root = tmp_path_factory.mktemp("ddp_data")
    rng = np.random.default_rng(0)
    for domain in "AB":
        (root / f"train{domain}").mkdir()
        (root / f"train{domain}_seg").mkdir()
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / f"train{domain}" / f"{i}.png")
            for k, side in enumerate((12, 8)):
                mask = np.zeros((32, 32), np.uint8)
                top, left = rng.integers(0, 32 - side, 2)
                mask[top : top + side, left : left + side] = 255
                Image.fromarray(mask).save(root / f"train{domain}_seg" / f"{i}_{k}.png")
    return root


def train(*args, processes=1):
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else []
    proc = subprocess.run([sys.executable, *launcher, str(ROOT / "train.py"), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def load(run_dir, name):
    return torch.load(run_dir / f"latest_net_{name}.pth", weights_only=True)


def share_close(a: torch.Tensor, b: torch.Tensor, atol: float) -> float:
    return float(((a - b).abs() <= atol).double().mean())


@pytest.mark.parametrize("fused", [[], ["--fuse_twins"]], ids=["", "fused twins"])
def test_two_processes_with_batch_2_train_as_one_process_with_batch_4(two_instance_data, tmp_path, fused):
    # Both runs without and with --fuse_twins (G_A and G_B as one network, D_A and D_B too): the fused networks'
    # gradients are reduced as the twins' own (tests/test_model.py compares the fused step with the default).
    # Judged by what float noise cannot move: the losses of every batch, and the share of weights and outputs that
    # agree. Adam's first updates are about lr * sign(grad), so a gradient near zero that rounds the other way in
    # another reduction order moves its weight by a few lr (2e-4): one element in ten thousand may differ that much.
    # Without the gradients averaged over the processes, most weights would.
    common = ["--dataroot", two_instance_data, "--checkpoints_dir", tmp_path, *TINY, *SAME, "--niter", "1", "--niter_decay",
              "0", "--print_freq", "4"]  # fmt: skip
    train(*common, "--name", "one", "--batch_size", 4, *fused)
    out = train(*common, "--name", "two", "--batch_size", 2, *fused, processes=2)
    assert "2 processes" in out.stdout and out.stdout.count("done:") == 1  # only rank 0 speaks
    assert "batches of 4 images per domain (2 per process x 2)" in out.stdout
    states = {name: torch.load(tmp_path / name / "latest_training_state.pth", weights_only=False) for name in ("one", "two")}
    losses = [state["visualizer"]["history"]["losses"] for state in states.values()]
    assert len(losses[0]) == len(losses[1]) == 2  # both batches of the epoch, losses averaged over the processes
    for one, two in zip(*losses):
        assert one.keys() == two.keys()
        for key in one:
            assert two[key] == pytest.approx(one[key], rel=1e-3, abs=1e-5), key
    for name in ("G_A", "G_B", "D_A", "D_B"):
        one, two = load(tmp_path / "one", name), load(tmp_path / "two", name)
        assert one.keys() == two.keys()
        # biases right before an instance norm change no output: their gradients are float noise
        keys = [key for key in one if not key.endswith("bias")]
        weights_one, weights_two = (torch.cat([w[key].flatten().double() for key in keys]) for w in (one, two))
        assert share_close(weights_two, weights_one, 3e-5) >= 0.999, name
    G_one, G_two = N.define_G(3, 3, 4, "set", n_blocks=1), N.define_G(3, 3, 4, "set", n_blocks=1)
    G_one.load_state_dict(load(tmp_path / "one", "G_A"))
    G_two.load_state_dict(load(tmp_path / "two", "G_A"))
    x = make_input(batch=2, n=2)
    with torch.no_grad():
        # the same single-process run with 1 and with 2 threads gives outputs up to 6e-4 apart after these updates of
        # tiny networks (instance norm over few channels amplifies rounding); nearly all agree far closer
        y_one, y_two = G_one(x), G_two(x)
    if fused:  # the grouped convolutions of 2 samples and of 4 round differently, which Adam's first steps, about
        # lr * sign(grad), amplify in the gradients near zero: the outputs came 2.5e-4 apart on average, 1.7e-3 at most.
        # (One process alone, fused against unfused, is as far apart: 5e-5 in G's weights after these four updates.)
        assert float((y_two - y_one).abs().mean()) < 5e-4 and float((y_two - y_one).abs().max()) < 5e-3
    else:
        assert share_close(y_two, y_one, 6e-4) >= 0.999 and float((y_two - y_one).abs().mean()) < 1e-4
    # 8 images per domain and epoch, counted over both processes
    state = states["two"]
    assert (state["counters"]["epoch"], state["counters"]["total_iters"]) == (2, 8) and len(state["rng_per_rank"]) == 2


def test_a_two_process_run_resumes(two_instance_data, tmp_path):
    common = ["--dataroot", two_instance_data, "--checkpoints_dir", tmp_path, "--name", "r", *TINY, "--batch_size", 2]
    train(*common, "--niter", "1", "--niter_decay", "0", processes=2)
    before = load(tmp_path / "r", "G_A")
    out = train(*common, "--niter", "2", "--niter_decay", "0", "--continue_train", processes=2)
    assert "epochs 2..2" in out.stdout
    state = torch.load(tmp_path / "r" / "latest_training_state.pth", weights_only=False)
    assert (state["counters"]["epoch"], state["counters"]["total_iters"]) == (3, 16)
    after = load(tmp_path / "r", "G_A")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_a_run_resumed_by_more_processes_gives_each_its_own_random_stream(two_instance_data, tmp_path):
    # a 1-process run resumed by 2: rank 1 has no saved state of its own and must not start from a copy of rank 0's
    # (both would draw the same partners, crops, flips and pool choices for the rest of the run)
    common = ["--dataroot", two_instance_data, "--checkpoints_dir", tmp_path, "--name", "r", *TINY, "--batch_size", 2,
              "--seed", 0]  # fmt: skip
    train(*common, "--niter", "1", "--niter_decay", "0")
    train(*common, "--niter", "2", "--niter_decay", "0", "--continue_train", processes=2)
    rngs = torch.load(tmp_path / "r" / "latest_training_state.pth", weights_only=True)["rng_per_rank"]
    assert len(rngs) == 2
    assert not torch.equal(rngs[0]["torch"], rngs[1]["torch"]) and rngs[0]["python"] != rngs[1]["python"]
    assert not torch.equal(rngs[0]["numpy"]["keys"], rngs[1]["numpy"]["keys"])


def test_spawn_starts_one_process_per_device_itself(two_instance_data, tmp_path):
    # `train.py --gpu_ids 0,1` calls distributed.spawn when CUDA is there; the mechanism is the same on the CPU
    argv = ["--dataroot", str(two_instance_data), "--checkpoints_dir", str(tmp_path), "--name", "s", *TINY, "--niter", "1",
            "--niter_decay", "0", "--batch_size", "2"]  # fmt: skip
    code = f"import train; from instagan.util import distributed; distributed.spawn(train.main, {argv!r}, 2)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 processes" in proc.stdout
    state = torch.load(tmp_path / "s" / "latest_training_state.pth", weights_only=False)
    assert state["counters"]["total_iters"] == 8 and len(state["rng_per_rank"]) == 2


def test_gpu_ids_share_the_batch_size_as_the_original():
    # --batch_size 4 --gpu_ids 0,1,2,3 trained 4 images per update in all (DataParallel); train.py keeps that meaning
    from train import per_process_argv

    assert per_process_argv(["--gpu_ids", "0,1,2,3", "--batch_size", "4"], 4, 4)[-2:] == ["--batch_size", "1"]
    assert per_process_argv(["--batch_size", "16"], 16, 2)[-2:] == ["--batch_size", "8"]
    with pytest.raises(UserError, match="--batch_size 1 is shared by the 2 GPUs of --gpu_ids: give a multiple of 2"):
        per_process_argv([], 1, 2)
