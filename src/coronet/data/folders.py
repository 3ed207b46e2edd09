"""The two dataset layouts of pytorch-CycleGAN-and-pix2pix.

aligned:   ROOT/train/*.jpg, ROOT/val|test/*.jpg; each image is A|B side by side (Pix2Pix).
unaligned: ROOT/trainA, trainB, testA, testB (CycleGAN); A and B are drawn independently.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from coronet.data import transforms as T
from coronet.data.images import list_images, load_rgb
from coronet.errors import ConfigError, DataError

DIRECTIONS = ("AtoB", "BtoA")


class _Base(Dataset):
    def __init__(self, root: str | Path, cfg: T.TransformConfig, train: bool, direction: str,
                 seed: int, skip_bad_images: bool) -> None:
        self.root = Path(root)
        if self.root.is_file():
            raise DataError(f"dataset root {self.root} is a file; give the dataset folder with --dataroot")
        if not self.root.is_dir():
            raise DataError(f"dataset root {self.root} does not exist; check --dataroot (a run whose data "
                            f"moved continues with --resume RUN_DIR --dataroot NEW_FOLDER)")
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be AtoB or BtoA (got {direction!r})")
        self.cfg = cfg if train else cfg.for_test()
        self.train = train
        self.swap = direction == "BtoA"
        self.seed = seed
        self.epoch = 0
        self.skip_bad_images = skip_bad_images

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _draw(self, index: int) -> T.Draw:
        return T.draw(self.seed, self.epoch, index) if self.train else T.Draw(0.0, 0.0, False)

    def _read(self, path: Path) -> Image.Image | None:
        try:
            return load_rgb(path)
        except DataError as exc:
            if not self.skip_bad_images:
                raise DataError(f"{exc}, or pass --set data.skip_bad_images=true to skip unreadable "
                                "files") from None
            warnings.warn(f"skipping {path}: {exc}", stacklevel=3)
            return None


def split_folder(root: Path, phase: str) -> Path:
    """`train`, or for evaluation the first of `test`/`val` that exists."""
    if phase == "train":
        return root / "train"
    for name in ("test", "val"):
        if (root / name).is_dir():
            return root / name
    raise DataError(f"no test split under {root}: looked for {root / 'test'} and {root / 'val'}")


class AlignedDataset(_Base):
    """Pairs stored side by side: the left half is A, the right half B."""

    paired = True

    def __init__(self, root: str | Path, phase: str = "train", direction: str = "AtoB",
                 cfg: T.TransformConfig | None = None, seed: int = 0,
                 skip_bad_images: bool = False, max_items: int | None = None) -> None:
        super().__init__(root, cfg or T.TransformConfig(), phase == "train", direction, seed,
                         skip_bad_images)
        self.paths = list_images(split_folder(self.root, phase), f"{phase} image")[:max_items]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        for offset in range(len(self.paths)):
            path = self.paths[(index + offset) % len(self.paths)]
            ab = self._read(path)
            if ab is not None and not self._is_pair(path, ab):
                ab = None
            if ab is not None:
                break
        else:
            raise DataError(f"no readable image under {self.root}")
        w, h = ab.size
        a, b = ab.crop((0, 0, w // 2, h)), ab.crop((w // 2, 0, w, h))
        d = self._draw(index)
        a_t, b_t = T.apply(a, self.cfg, d), T.apply(b, self.cfg, d)
        if self.swap:
            a_t, b_t = b_t, a_t
        return {"A": a_t, "B": b_t, "A_path": str(path), "B_path": str(path), "index": index}

    def _is_pair(self, path: Path, ab: Image.Image) -> bool:
        """An aligned image is A|B side by side, so wider than high; a square one is a single image
        that splitting would cut in two and stretch."""
        w, h = ab.size
        if w > h:
            return True
        message = (f"{path} is {w}x{h}, but an aligned (Pix2Pix) image holds A and B side by side, "
                   f"twice as wide as high. Put pairs there, or for unpaired trainA/trainB folders "
                   f"use --model cyclegan")
        if not self.skip_bad_images:
            raise DataError(message + ", or pass --set data.skip_bad_images=true to skip such files")
        warnings.warn(f"skipping {message}", stacklevel=3)
        return False


class UnalignedDataset(_Base):
    """Two unpaired folders; the B image of each sample is drawn at random (reproducibly)."""

    paired = False

    def __init__(self, root: str | Path, phase: str = "train", direction: str = "AtoB",
                 cfg: T.TransformConfig | None = None, seed: int = 0,
                 skip_bad_images: bool = False, max_items: int | None = None) -> None:
        super().__init__(root, cfg or T.TransformConfig(), phase == "train", direction, seed,
                         skip_bad_images)
        split = "train" if phase == "train" else "test"
        self.a_paths = list_images(self.root / f"{split}A", f"{split}A image")[:max_items]
        self.b_paths = list_images(self.root / f"{split}B", f"{split}B image")[:max_items]
        if self.swap:
            self.a_paths, self.b_paths = self.b_paths, self.a_paths

    def __len__(self) -> int:
        return max(len(self.a_paths), len(self.b_paths))

    def __getitem__(self, index: int) -> dict:
        a_index = index % len(self.a_paths)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            b_index = int(rng.integers(len(self.b_paths)))
        else:
            b_index = index % len(self.b_paths)
        a_path, b_path = self.a_paths[a_index], self.b_paths[b_index]
        a, b = self._read(a_path), self._read(b_path)
        shift = 1
        while a is None or b is None:  # skip_bad_images: try the next files
            a_path = self.a_paths[(a_index + shift) % len(self.a_paths)]
            b_path = self.b_paths[(b_index + shift) % len(self.b_paths)]
            a = a if a is not None else self._read(a_path)
            b = b if b is not None else self._read(b_path)
            shift += 1
            if shift > len(self):
                raise DataError(f"no readable image under {self.root}")
        d_a, d_b = self._draw(index), self._draw(index + 1_000_003)
        return {"A": T.apply(a, self.cfg, d_a), "B": T.apply(b, self.cfg, d_b),
                "A_path": str(a_path), "B_path": str(b_path), "index": index}
