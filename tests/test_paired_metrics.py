"""Paired metrics: PSNR by its definition, SSIM against an independent scipy computation."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from coronet.eval.paired import paired_metrics, psnr, ssim, to_unit


def _ssim_scipy(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. with scipy's Gaussian filter (sigma 1.5, 11 taps), valid region, per channel."""
    vals = []
    for c in range(x.shape[0]):
        def f(t):
            return gaussian_filter(t, 1.5, truncate=3.5, mode="constant")[5:-5, 5:-5]

        a, b = x[c].astype(np.float64), y[c].astype(np.float64)
        mu_a, mu_b = f(a), f(b)
        saa, sbb, sab = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
        c1, c2 = 0.01**2, 0.03**2
        s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def test_ssim_matches_scipy_and_is_one_for_identical_images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    ours = ssim(x, y)
    for i in range(2):
        assert abs(float(ours[i]) - _ssim_scipy(x[i].numpy(), y[i].numpy())) < 1e-5
    assert torch.allclose(ssim(x, x), torch.ones(2))
    assert torch.allclose(ssim(x, y), ssim(y, x))


def test_psnr_of_a_constant_offset():
    x = torch.full((1, 3, 8, 8), 0.5)
    assert torch.allclose(psnr(x, x + 0.1), torch.tensor([20.0]), atol=1e-4)


def test_to_unit_truncates_like_the_reference():
    t = torch.tensor([-1.0, 0.0, 0.999, 1.0])
    assert to_unit(t).mul(255).round().tolist() == [0.0, 127.0, 254.0, 255.0]


def test_paired_metrics_of_a_perfect_and_a_bad_generator():
    b = torch.rand(4, 3, 16, 16) * 2 - 1
    loader = [{"A": b.clone(), "B": b.clone()}]
    perfect = paired_metrics(torch.nn.Identity(), loader)
    assert perfect["ssim"] > 0.999 and perfect["l1"] == 0 and perfect["images"] == 4
    worse = paired_metrics(torch.nn.Identity(), [{"A": -b, "B": b}])
    assert worse["psnr"] < perfect["psnr"] and worse["l1"] > 0.1
