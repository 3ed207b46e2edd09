"""Paired image metrics for translations that have ground truth (Pix2Pix): PSNR, SSIM, L1.

Images are compared as the reference saves them: generator output in [-1, 1] mapped to uint8 by
truncation (tensor2im), then to [0, 1]. SSIM is Wang et al. (2004): 11x11 Gaussian window,
sigma 1.5, K1 = 0.01, K2 = 0.03, computed per channel and averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8 by truncation -> [0, 1] float (what a saved PNG holds)."""
    return ((images.clamp(-1, 1) + 1.0) / 2.0 * 255.0).to(torch.uint8).float() / 255.0


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per image PSNR in dB for images in [0, 1], shape (N, C, H, W)."""
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-12))


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per image mean SSIM (valid windows only), shape (N, C, H, W) -> (N,)."""
    c = x.shape[1]
    window = _gaussian().to(x.device, torch.float64).expand(c, 1, 11, 11)
    x, y = x.double(), y.double()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1).float()


class PairedSums:
    """Running sums of per-image PSNR, SSIM and L1 over batches of [0, 1] images; `means()` at the end."""

    def __init__(self) -> None:
        self.totals = {"psnr": 0.0, "ssim": 0.0, "l1": 0.0}
        self.count = 0

    def add(self, fake: torch.Tensor, real: torch.Tensor) -> None:
        self.totals["psnr"] += float(psnr(fake, real).sum())
        self.totals["ssim"] += float(ssim(fake, real).sum())
        self.totals["l1"] += float((fake - real).abs().flatten(1).mean(1).sum())
        self.count += fake.shape[0]

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.totals.items()}


@torch.no_grad()
def paired_metrics(generator: torch.nn.Module, loader, device: str | torch.device = "cpu") -> dict:
    """Mean PSNR, SSIM and L1 (on [0, 1] images) of `generator` over a paired test loader."""
    was = generator.training
    generator.eval()
    sums = PairedSums()
    for batch in loader:
        sums.add(to_unit(generator(batch["A"].to(device)).cpu()), to_unit(batch["B"]))
    generator.train(was)
    return sums.means() | {"images": sums.count}
