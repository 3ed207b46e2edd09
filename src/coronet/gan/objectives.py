"""The two training objectives: each says its fakes, its losses and the order of its updates.

Paper notation vs code: Pix2Pix learns G: A -> B with a conditional D on (A, B). CycleGAN learns
G_A: A -> B and G_B: B -> A (the paper's G and F), with D_A judging B images and D_B judging A
images (the reference code's naming, kept so checkpoints read alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from coronet.gan.image_pool import ImagePool
from coronet.gan.losses import gan_loss


class Objective:
    """What the training loop needs of an objective: `forward` makes the step's fakes once, and
    `losses(side, ...)` gives the named losses of side "G" or "D", whose entry of that name is the
    total the step minimises; the sides are updated in `update_order`."""

    update_order: tuple[str, ...] = ("G", "D")

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def g_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def d_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def losses(self, side: str, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        return self.g_loss(batch, fakes) if side == "G" else self.d_loss(batch, fakes)


def _set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


@dataclass
class Pix2PixObjective(Objective):
    """`D_judge` scores fakes in the generator loss; under DDP it is the unwrapped D, whose
    parameters take no gradient there (the wrapper would wait for gradients that never come)."""

    G: nn.Module
    D: nn.Module
    gan_mode: str = "vanilla"
    lambda_L1: float = 100.0
    D_judge: nn.Module | None = None

    update_order = ("D", "G")  # the reference updates the discriminator first for Pix2Pix

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return {"fake_B": self.G(batch["A"])}

    def d_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        _set_requires_grad([self.D], True)
        fake = self.D(torch.cat([batch["A"], fakes["fake_B"].detach()], 1))
        real = self.D(torch.cat([batch["A"], batch["B"]], 1))
        d_fake, d_real = gan_loss(fake, False, self.gan_mode), gan_loss(real, True, self.gan_mode)
        return {"D_fake": d_fake, "D_real": d_real, "D": 0.5 * (d_fake + d_real)}

    def g_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        judge = self.D_judge or self.D
        _set_requires_grad([judge], False)
        pred = judge(torch.cat([batch["A"], fakes["fake_B"]], 1))
        g_gan = gan_loss(pred, True, self.gan_mode, for_discriminator=False)
        g_l1 = F.l1_loss(fakes["fake_B"], batch["B"]) * self.lambda_L1
        return {"G_GAN": g_gan, "G_L1": g_l1, "G": g_gan + g_l1}


@dataclass
class CycleGANObjective(Objective):
    G_A: nn.Module
    G_B: nn.Module
    D_A: nn.Module
    D_B: nn.Module
    pool_A: ImagePool
    pool_B: ImagePool
    gan_mode: str = "lsgan"
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    D_A_judge: nn.Module | None = None  # unwrapped discriminators for the generator loss (DDP)
    D_B_judge: nn.Module | None = None

    update_order = ("G", "D")  # and the generators first for CycleGAN

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        fake_B = self.G_A(batch["A"])
        fake_A = self.G_B(batch["B"])
        return {"fake_B": fake_B, "rec_A": self.G_B(fake_B), "fake_A": fake_A,
                "rec_B": self.G_A(fake_A)}

    def d_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        _set_requires_grad([self.D_A, self.D_B], True)
        out = {}
        for name, D, real, fake in (("D_A", self.D_A, batch["B"], self.pool_B.query(fakes["fake_B"])),
                                    ("D_B", self.D_B, batch["A"], self.pool_A.query(fakes["fake_A"]))):
            out[name] = 0.5 * (gan_loss(D(real), True, self.gan_mode)
                               + gan_loss(D(fake.detach()), False, self.gan_mode))
        out["D"] = out["D_A"] + out["D_B"]
        return out

    def g_loss(self, batch: dict, fakes: dict) -> dict[str, torch.Tensor]:
        judge_A, judge_B = self.D_A_judge or self.D_A, self.D_B_judge or self.D_B
        _set_requires_grad([judge_A, judge_B], False)
        out = {}
        if self.lambda_identity > 0:
            out["idt_A"] = F.l1_loss(self.G_A(batch["B"]), batch["B"]) * self.lambda_B * self.lambda_identity
            out["idt_B"] = F.l1_loss(self.G_B(batch["A"]), batch["A"]) * self.lambda_A * self.lambda_identity
        out["G_A"] = gan_loss(judge_A(fakes["fake_B"]), True, self.gan_mode, for_discriminator=False)
        out["G_B"] = gan_loss(judge_B(fakes["fake_A"]), True, self.gan_mode, for_discriminator=False)
        out["cycle_A"] = F.l1_loss(fakes["rec_A"], batch["A"]) * self.lambda_A
        out["cycle_B"] = F.l1_loss(fakes["rec_B"], batch["B"]) * self.lambda_B
        out["G"] = sum(out.values())
        return out
