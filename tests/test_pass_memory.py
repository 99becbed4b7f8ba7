import random

import torch

from instagan.data import create_dataset
from instagan.options.train_options import TrainOptions
from scripts import pass_memory


def flags(root, *extra) -> list[str]:
    return ["--dataroot", str(root), "--name", "memory", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--loadSizeH", "32",
            "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32", "--display_id", "0", "--num_threads", "0",
            "--batch_size", "2", *extra]  # fmt: skip


def instances(segs: torch.Tensor) -> list[int]:
    return (segs > -1).flatten(2).any(2).sum(1).tolist()


def test_the_batch_pairs_the_fullest_images_of_both_domains_on_every_call(shapes_root, tmp_path):
    opt = TrainOptions().parse([*flags(shapes_root), "--checkpoints_dir", str(tmp_path), "--gpu_ids", "-1"])
    dataset = create_dataset(opt)
    most = {key: sorted((len(domain.mask_paths(i)) for i in range(len(domain))), reverse=True)[:2]
            for key, domain in (("A", dataset.domain_A), ("B", dataset.domain_B))}  # fmt: skip
    assert most["B"] != sorted(most["B"]) or len(set(most["B"])) == 1  # ranked, largest first
    torch.manual_seed(0), random.seed(1)  # the flips draw from torch's generator, which main() seeds
    first = pass_memory.fullest_batch(dataset, 2)
    torch.manual_seed(0), random.seed(2)  # training's random pairing draws B with Python's random: not this batch
    second = pass_memory.fullest_batch(dataset, 2)
    for key in ("A", "B"):
        assert instances(first[f"{key}_segs"]) == most[key]  # no instance lost to the 32x32 crop of a 32x32 image
        assert first[f"{key}_paths"] == second[f"{key}_paths"] and torch.equal(first[key], second[key])


def test_memory_per_pass_is_the_same_on_every_run_and_grows_in_one_pass(shapes_root, tmp_path, capsys):
    steps = [*flags(shapes_root, "--ins_max", "4", "--ins_per", "1"), "--checkpoints_dir", str(tmp_path)]
    one_pass = [*flags(shapes_root, "--ins_max", "4", "--ins_per", "4"), "--checkpoints_dir", str(tmp_path)]
    random.seed(1)
    first = pass_memory.main(steps)
    random.seed(2)
    assert pass_memory.main(steps) == first
    assert pass_memory.main(one_pass) > first
    assert "MiB held for backward at most, training step of 2 images with up to 4 instances" in capsys.readouterr().out
