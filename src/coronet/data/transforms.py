"""The reference preprocessing (resize, random crop, flip) with reproducible random draws.

Each sample's crop and flip come from a generator seeded by (seed, epoch, index), so a resumed
run, any number of loader workers and every DDP rank see the same augmentation for the same
sample; the reference draws them from the global RNG instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from coronet.errors import ConfigError

PREPROCESS = ("resize_and_crop", "resize", "crop", "none")


@dataclass(frozen=True)
class TransformConfig:
    load_size: int = 286
    crop_size: int = 256
    preprocess: str = "resize_and_crop"
    flip: bool = True

    def __post_init__(self) -> None:
        if self.preprocess not in PREPROCESS:
            raise ConfigError(f"unknown preprocess {self.preprocess!r}; use one of {PREPROCESS}")
        if self.crop_size < 1 or self.load_size < 1:
            raise ConfigError("load_size and crop_size must be positive")
        if "crop" in self.preprocess and "resize" in self.preprocess and self.crop_size > self.load_size:
            raise ConfigError(f"crop_size {self.crop_size} is larger than load_size {self.load_size}")

    def for_test(self) -> TransformConfig:
        """Test time: bicubic resize straight to crop_size, no crop jitter, no flip."""
        return TransformConfig(self.crop_size, self.crop_size,
                               "resize" if self.preprocess != "none" else "none", False)


@dataclass(frozen=True)
class Draw:
    """The random choices for one sample (shared by the A and B halves of a pair)."""

    crop_x: float
    crop_y: float
    flip: bool


def draw(seed: int, epoch: int, index: int) -> Draw:
    rng = np.random.default_rng([seed, epoch, index])
    return Draw(float(rng.random()), float(rng.random()), bool(rng.random() < 0.5))


def apply(img: Image.Image, cfg: TransformConfig, d: Draw) -> torch.Tensor:
    """Image -> float tensor (3, H, W) in [-1, 1]."""
    if "resize" in cfg.preprocess:
        img = img.resize((cfg.load_size, cfg.load_size), Image.BICUBIC)
    if "crop" in cfg.preprocess:
        w, h = img.size
        size = min(cfg.crop_size, w, h)
        x = int(d.crop_x * (w - size + 1))
        y = int(d.crop_y * (h - size + 1))
        img = img.crop((x, y, x + size, y + size))
    if cfg.flip and d.flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    array = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous() / 127.5 - 1.0


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8, truncating like the reference's tensor2im."""
    array = (image.detach().cpu().float().clamp(-1, 1) + 1.0) / 2.0 * 255.0
    return array.permute(1, 2, 0).numpy().astype(np.uint8)
