"""Data sets, found by name from ``--dataset_mode``: ``data/<name>_dataset.py`` holds ``<Name>Dataset``."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from instagan.data.base_dataset import BaseDataset
from instagan.data.sampler import EpochSampler
from instagan.util import registry


def available_dataset_modes() -> list[str]:
    return registry.available(Path(__file__).parent, "dataset", exclude=("base_dataset", "template_dataset"))


def find_dataset_using_name(dataset_mode: str) -> type[BaseDataset]:
    """The dataset class for ``--dataset_mode``; an unknown name raises and lists the known ones."""
    return registry.find_class(__name__, dataset_mode, "dataset", BaseDataset, "--dataset_mode", available_dataset_modes())


def get_option_setter(dataset_mode: str):
    return find_dataset_using_name(dataset_mode).modify_commandline_options


def create_dataset(opt) -> BaseDataset:
    return find_dataset_using_name(opt.dataset_mode)(opt)


def create_dataloader(opt, dataset: BaseDataset, rank: int = 0, world_size: int = 1, seed: int = 0) -> DataLoader:
    """Batches of ``--batch_size``, in order for testing; for training in the order of an ``EpochSampler``
    (shuffled unless ``--serial_batches``; call ``loader.sampler.set_epoch(epoch, start)`` before each epoch),
    each process loading its own share of the data set. Workers live as long as the loader, so that each epoch starts
    at full speed."""
    sampler = EpochSampler(len(dataset), not opt.serial_batches, seed, rank, world_size) if opt.isTrain else None
    return DataLoader(
        dataset,
        batch_size=opt.batch_size,
        shuffle=False,
        sampler=sampler,
        num_workers=int(opt.num_threads),
        drop_last=False,
        persistent_workers=int(opt.num_threads) > 0,
    )
