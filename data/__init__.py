"""Data sets, found by name from ``--dataset_mode``: ``data/<name>_dataset.py`` holds ``<Name>Dataset``."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader, DistributedSampler

from data.base_dataset import BaseDataset
from util import registry


def available_dataset_modes() -> list[str]:
    return registry.available(Path(__file__).parent, "dataset", exclude=("base_dataset",))


def find_dataset_using_name(dataset_mode: str) -> type[BaseDataset]:
    """The dataset class for ``--dataset_mode``; an unknown name raises and lists the known ones."""
    return registry.find_class("data", dataset_mode, "dataset", BaseDataset, "--dataset_mode", available_dataset_modes())


def get_option_setter(dataset_mode: str):
    return find_dataset_using_name(dataset_mode).modify_commandline_options


def create_dataset(opt) -> BaseDataset:
    return find_dataset_using_name(opt.dataset_mode)(opt)


def create_dataloader(opt, dataset: BaseDataset, rank: int = 0, world_size: int = 1) -> DataLoader:
    """Batches of ``--batch_size``; shuffled unless ``--serial_batches``.

    With several processes each one loads batches of ``--batch_size`` from its own share of the data set
    (a DistributedSampler; call ``loader.sampler.set_epoch(epoch)`` each epoch).
    """
    sampler = None
    if world_size > 1:
        seed = opt.seed if opt.seed is not None else 0
        sampler = DistributedSampler(dataset, world_size, rank, shuffle=not opt.serial_batches, seed=seed)
    shuffle = not opt.serial_batches and sampler is None
    return DataLoader(
        dataset,
        batch_size=opt.batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=int(opt.num_threads),
        drop_last=False,
        persistent_workers=False,
    )
