"""The trainer and the CLI on a CUDA GPU: fp32 against the CPU, mixed precision, compile, and NCCL through torchrun.

Skipped where there is no GPU (CI has none); run on a GPU machine with ``python -m pytest tests/test_cuda.py``.
"""

import subprocess
import sys

import pytest
import torch
import torch._dynamo

from instagan.models import networks as N
from instagan.models.insta_gan_model import InstaGANModel
from instagan.models.trainer import Trainer
from instagan.options.train_options import TrainOptions
from instagan.util.distributed import Context
from scripts.benchmark_speed import random_batch
from tests.conftest import ROOT
from tests.test_engine import weights
from tests.test_model import check_fixed_shape_training
from tests.test_networks import make_input, watch_layouts

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (this machine has none)")
SMALL = ["--dataroot", "unused", "--ngf", "8", "--ndf", "8", "--n_blocks", "2", "--pool_size", "0"]


@pytest.fixture(autouse=True)
def no_tf32():
    """Convolutions and matrix products in full fp32, so that the GPU can be compared with the CPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def trainer(device: str, *flags) -> Trainer:
    opt = TrainOptions().parse(SMALL + ["--gpu_ids", "0" if device == "cuda" else "-1", *flags])
    torch.manual_seed(0)
    return Trainer(InstaGANModel(opt, torch.device(device)), opt, Context(torch.device(device)))


def test_a_training_step_on_the_gpu_matches_the_cpu_in_fp32():
    cpu, gpu = trainer("cpu"), trainer("cuda")
    assert all(torch.equal(v, gpu_v.cpu()) for v, gpu_v in zip(weights(cpu.model).values(), weights(gpu.model).values()))
    batch = random_batch(2, 3, 48, 20, 0)
    cpu.train_step(batch)
    gpu.train_step(batch)
    # the first sequential sub-step starts from the same weights: its losses agree to float precision
    for name, value in cpu.step_losses[0].items():
        assert gpu.step_losses[0][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert all(p.is_cuda for net in gpu.model.networks().values() for p in net.parameters())


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_the_gpu(precision):
    t = trainer("cuda", "--precision", precision)
    before = weights(t.model)
    for seed in range(3):
        losses = t.train_step(random_batch(2, 3, 48, 20, seed))
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    after = weights(t.model)
    assert all(v.dtype == torch.float32 for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert t.scalers[0].is_enabled() == (precision == "fp16")
    if precision == "bf16":  # fp16: the scaler skips the first updates while it finds its scale
        assert t.skipped_updates == 0


def test_compiled_generator_on_the_gpu_matches_eager():
    torch._dynamo.reset()
    torch.manual_seed(0)
    G = N.define_G(3, 3, 8, "set", n_blocks=2).cuda().eval()
    compiled = N.compile_network(G)
    for n in (2, 3):  # two instance counts, one compiled graph
        x = make_input(batch=2, n=n, size=48).cuda()
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), G(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("launcher", [[], ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]],
                         ids=["plain", "torchrun_nccl"])  # fmt: skip
def test_train_and_test_scripts_on_the_gpu(tmp_path, launcher):
    data, checkpoints = tmp_path / "shapes", tmp_path / "checkpoints"
    make = [sys.executable, "datasets/make_shapes_dataset.py", "--out", str(data), "--size", "48", "--train", "8", "--test", "4"]
    subprocess.run(make, cwd=ROOT, check=True, capture_output=True)
    size = ["--loadSizeH", "48", "--loadSizeW", "48", "--fineSizeH", "48", "--fineSizeW", "48"]
    common = ["--dataroot", str(data), "--checkpoints_dir", str(checkpoints), "--name", "gpu", "--gpu_ids", "0", "--ngf",
              "8", "--ndf", "8", "--n_blocks", "2", *size]  # fmt: skip
    train = [sys.executable, *launcher, "train.py", *common, "--niter", "1", "--niter_decay", "0", "--batch_size", "2",
             "--display_id", "0", "--precision", "bf16"]  # fmt: skip
    proc = subprocess.run(train, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cuda" in proc.stdout.lower()
    test = [sys.executable, "test.py", *common, "--results_dir", str(tmp_path / "results")]
    proc = subprocess.run(test, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((tmp_path / "results").rglob("*fake_B*.png"))


def test_channels_last_on_the_gpu_keeps_every_layer_nhwc_and_the_losses():
    """On CUDA, --channels_last keeps NHWC memory between layers (instance norm included) and gives the losses the
    default layout gives, in fp32 and in bf16."""
    for precision, rel in (("fp32", 1e-4), ("bf16", 5e-2)):
        plain, nhwc = trainer("cuda", "--precision", precision), trainer("cuda", "--precision", precision, "--channels_last")
        nhwc.model.setup()
        _, converted = watch_layouts(nhwc.model)
        batch = random_batch(2, 3, 48, 20, 0)
        plain.train_step(batch)
        nhwc.train_step(batch)
        assert converted == []
        for name, value in plain.step_losses[0].items():
            assert nhwc.step_losses[0][name] == pytest.approx(value, rel=rel, abs=1e-5), (precision, name)


def test_cuda_graphs_test_pass_on_the_gpu_matches_eager():
    """test.py --cuda_graphs: the static steps replayed as CUDA graphs translate as the default pass does."""
    from instagan.options.test_options import TestOptions

    torch._dynamo.reset()
    torch.manual_seed(0)
    opt = TestOptions().parse(SMALL[:-2] + ["--gpu_ids", "0", "--ins_max", "20", "--ins_per", "2"])
    model = InstaGANModel(opt, torch.device("cuda"))
    model.eval()
    batch = random_batch(2, 5, 48, 20, 0)
    model.set_input(batch)
    default = model.translate()
    model.use_static_steps(compiled=True)
    for _ in range(3):  # compile, record, replay
        model.set_input(batch)
        static = model.translate()
        for d, s in zip(default, static):
            torch.testing.assert_close(s.translated, d.translated, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(s.translated_masks, d.translated_masks, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("sn_update", ["per_instance", "per_call"])
def test_cuda_graphs_training_on_the_gpu_matches_eager(sn_update):
    """train.py --cuda_graphs: every network call of a step with fixed shapes, each layer stack replayed as a CUDA
    graph; three batches of three sequential steps give the default's losses and gradients."""
    torch._dynamo.reset()
    check_fixed_shape_training("cuda", sn_update, compiled=True, atol=1e-4, rtol=1e-2)


@pytest.mark.parametrize("sn_update", ["per_instance", "per_call"])
def test_fused_twins_training_on_the_gpu_matches_the_default(sn_update):
    """--fuse_twins on CUDA (cuDNN's grouped convolutions): every loss and gradient of three batches is the default's."""
    check_fixed_shape_training("cuda", sn_update, False, atol=1e-4, rtol=1e-2, fused=True)


def test_fused_twins_with_cuda_graphs_on_the_gpu_match_the_default():
    """--fuse_twins --cuda_graphs: each fused layer stack replayed as a CUDA graph."""
    torch._dynamo.reset()
    check_fixed_shape_training("cuda", "per_call", True, atol=1e-4, rtol=1e-2, fused=True)
