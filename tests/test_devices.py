import pytest
import torch

from instagan.util.devices import resolve_device


def test_cpu_requested():
    assert resolve_device([]) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the fallback cannot happen")
def test_gpu_requested_without_cuda_warns_and_uses_the_cpu():
    with pytest.warns(UserWarning, match="--gpu_ids -1"):
        assert resolve_device([0]) == torch.device("cpu")
