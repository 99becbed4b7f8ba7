"""Data sets, found by name from ``--dataset_mode``: ``data/<name>_dataset.py`` holds ``<Name>Dataset``."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from data.base_dataset import BaseDataset


def available_dataset_modes() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[: -len("_dataset")] for m in pkgutil.iter_modules([str(here)]) if m.name.endswith("_dataset"))


def find_dataset_using_name(dataset_mode: str) -> type[BaseDataset]:
    """The dataset class for ``--dataset_mode``; an unknown name raises and lists the known ones."""
    if dataset_mode not in available_dataset_modes():
        raise ValueError(f"unknown --dataset_mode {dataset_mode!r}: choose one of {', '.join(available_dataset_modes())}")
    module = importlib.import_module(f"data.{dataset_mode}_dataset")
    target = dataset_mode.replace("_", "").lower() + "dataset"
    for name, cls in vars(module).items():
        if name.lower() == target and isinstance(cls, type) and issubclass(cls, BaseDataset):
            return cls
    raise ImportError(f"data/{dataset_mode}_dataset.py defines no BaseDataset subclass named like {target}")


def get_option_setter(dataset_mode: str):
    return find_dataset_using_name(dataset_mode).modify_commandline_options


def create_dataset(opt) -> BaseDataset:
    return find_dataset_using_name(opt.dataset_mode)(opt)


def create_dataloader(opt, dataset: BaseDataset, sampler: torch.utils.data.Sampler | None = None) -> DataLoader:
    """Batches of ``--batch_size``; shuffled unless ``--serial_batches``."""
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
