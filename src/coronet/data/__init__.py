"""Datasets in the layouts users already have, plus built-in ones that need no download."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from coronet.data.builtin import BUILTIN, PREFIX, BuiltinDataset, write_builtin
from coronet.data.folders import AlignedDataset, UnalignedDataset
from coronet.data.images import list_images, load_rgb
from coronet.data.transforms import TransformConfig, to_uint8


def make_dataset(dataroot: str, paired: bool, phase: str, direction: str, cfg: TransformConfig,
                 seed: int = 0, skip_bad_images: bool = False, max_items: int | None = None) -> Dataset:
    """`builtin:NAME` or a folder in the aligned (paired) / unaligned layout; `max_items` keeps the
    first N samples (of each folder)."""
    if dataroot.startswith(PREFIX):
        return BuiltinDataset(dataroot, phase, direction, cfg, seed, max_items)
    cls = AlignedDataset if paired else UnalignedDataset
    return cls(Path(dataroot), phase, direction, cfg, seed, skip_bad_images, max_items)


__all__ = [
    "BUILTIN",
    "PREFIX",
    "AlignedDataset",
    "BuiltinDataset",
    "TransformConfig",
    "UnalignedDataset",
    "list_images",
    "load_rgb",
    "make_dataset",
    "to_uint8",
    "write_builtin",
]
