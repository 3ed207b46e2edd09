"""Resolve a run's config and build its data: model-dependent defaults, checks, datasets, steps.

Reference defaults that depend on the model are resolved here, once: Pix2Pix uses vanilla GAN
loss, a BatchNorm conditional PatchGAN (6 input channels) and dropout in U-Net generators;
CycleGAN uses LSGAN and InstanceNorm discriminators on 3 channels.
"""

from __future__ import annotations

import math
from dataclasses import replace

from coronet.config import PHASE_LENGTHS, RunConfig
from coronet.data import TransformConfig, make_dataset
from coronet.errors import ConfigError, DataError
from coronet.models import check_size, list_generators
from coronet.pruning import FROM_SCRATCH_LR_SCALE


def generator_names(cfg: RunConfig) -> tuple[str, ...]:
    return ("G_A",) if cfg.train.model == "pix2pix" else ("G_A", "G_B")  # G_A: A -> B in both


def resolve_defaults(cfg: RunConfig) -> RunConfig:
    """`cfg` with the model-dependent `None`s filled by the reference's choices, and checked."""
    t, m = cfg.train, cfg.model
    pix2pix = t.model == "pix2pix"
    if m.netG not in list_generators():
        raise ConfigError(f"model.netG must be one of {', '.join(list_generators())} (got {m.netG!r})")
    if cfg.data.batch_size < 1:
        raise ConfigError("data.batch_size must be >= 1")
    check_training_sizes(cfg)
    check_device(t.device)
    if t.hyper_lr_scale is not None and not t.hyper_lr_scale > 0:
        raise ConfigError(f"train.hyper_lr_scale must be > 0 (got {t.hyper_lr_scale})")
    return cfg.updated({
        "train.gan_mode": t.gan_mode or ("vanilla" if pix2pix else "lsgan"),
        "model.use_dropout": m.use_dropout if m.use_dropout is not None else (
            pix2pix and m.netG.startswith("unet")),
        "model.normD": m.normD or ("batch" if pix2pix else "instance"),
        # from a trained model the hypernetworks' full step would rewrite its kernels within a few
        # steps, before the search has read which channels matter
        "train.hyper_lr_scale": t.hyper_lr_scale or (
            0.1 if m.init_from or m.init_from_B else FROM_SCRATCH_LR_SCALE[m.hypernet]),
    })


def check_device(name: str) -> None:
    """A device this machine has, or one line saying which it has."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name!r} is not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {name}: this machine has no CUDA device PyTorch can use; run "
                              f"with --device cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name}: this machine has {count} CUDA device(s), cuda:0 to "
                              f"cuda:{count - 1}")
    elif device.type != "cpu" and device.type != "mps":
        raise ConfigError(f"--device {name}: coronet trains on cpu or cuda (got {device.type})")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: this machine has no MPS device; run with --device cpu")


def check_training_sizes(cfg: RunConfig) -> None:
    """The sizes the generator will see (training crops, test images) must be ones it takes."""
    d = cfg.data
    if d.crop_size < 1 or d.load_size < 1:
        raise ConfigError(f"--load-size and --crop-size must be positive (got {d.load_size}, {d.crop_size})")
    check_size(cfg.model.netG, d.crop_size, "--crop-size")
    if d.preprocess == "resize":  # trained on whole images resized to load_size
        check_size(cfg.model.netG, d.load_size, "--load-size (with data.preprocess=resize)")
    if "crop" in d.preprocess and "resize" in d.preprocess and d.crop_size > d.load_size:
        raise ConfigError(f"--crop-size {d.crop_size} is larger than --load-size {d.load_size}; the crop "
                          "is taken from the resized image")


def transform_config(cfg: RunConfig) -> TransformConfig:
    d = cfg.data
    return TransformConfig(d.load_size, d.crop_size, d.preprocess, d.flip)


def make_datasets(cfg: RunConfig):
    paired = cfg.train.model == "pix2pix"
    tf = transform_config(cfg)
    d = cfg.data
    train = make_dataset(d.dataroot, paired, "train", d.direction, tf, cfg.train.seed,
                         d.skip_bad_images, max_items=d.max_train_items)
    try:
        test = make_dataset(d.dataroot, paired, "test", d.direction, tf, cfg.train.seed,
                            d.skip_bad_images)
    except DataError:  # no test split: samples and metrics come from training images
        test = make_dataset(d.dataroot, paired, "train", d.direction, replace(tf, flip=False),
                            cfg.train.seed, d.skip_bad_images)
    return train, test


def steps_per_epoch(items: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps in one pass over `items` training samples shared by `world` processes."""
    return max(1, math.ceil(math.ceil(items / world) / batch_size))


def steps_from_epochs(cfg: RunConfig, steps_per_epoch: int) -> RunConfig:
    """`cfg` with its phase lengths in steps (a length in epochs: that many passes, rounded up)."""
    return cfg.updated({f"train.{phase}": getattr(cfg.train, phase).in_steps(steps_per_epoch)
                        for phase in PHASE_LENGTHS})
