"""GAN losses of pytorch-CycleGAN-and-pix2pix (vanilla, lsgan) and the hinge loss GAN Compression uses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from coronet.errors import ConfigError

GAN_MODES = ("vanilla", "lsgan", "hinge")


def gan_loss(prediction: torch.Tensor, target_is_real: bool, mode: str, for_discriminator: bool = True
             ) -> torch.Tensor:
    """Loss of a discriminator prediction against a real/fake label.

    vanilla: BCE with logits; lsgan: MSE to 1/0; hinge: max(0, 1 -+ D) for the discriminator and
    -D for the generator (`for_discriminator=False`).
    """
    if mode == "vanilla":
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return F.binary_cross_entropy_with_logits(prediction, target)
    if mode == "lsgan":
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return F.mse_loss(prediction, target)
    if mode == "hinge":
        if not for_discriminator:
            return -prediction.mean()
        return F.relu(1.0 - prediction).mean() if target_is_real else F.relu(1.0 + prediction).mean()
    raise ConfigError(f"unknown gan_mode {mode!r}; choose one of {GAN_MODES}")
