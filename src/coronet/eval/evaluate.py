"""Evaluate one generator on its test split: paired metrics where ground truth exists, FID and KID.

One pass over the sources: each batch is translated, truncated to uint8 in memory (as GAN
Compression, OMGD and CAT do), scored against its ground truth and fed to the Inception network.
Real features are cached per (files, settings), so a second evaluation on the same data costs only
the fakes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from coronet.eval import fid
from coronet.eval.paired import PairedSums, to_unit
from coronet.eval.protocol import EvalSplit


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "coronet" / "real_stats"


@torch.no_grad()
def real_features(split: EvalSplit, inception: nn.Module, device: str | torch.device,
                  cache_dir: Path | None, settings: dict[str, Any]) -> np.ndarray:
    def extract(_files=None) -> np.ndarray:
        batches = (to_unit(x) for x in split.reals())
        bar = tqdm(batches, total=-(-split.real_count // 8), desc="real features", unit="batch",
                   mininterval=2.0, leave=False)
        return fid.inception_features(inception, bar, device)

    if split.real_files is None or cache_dir is None:
        return extract()
    return fid.cached_real_features(split.real_files, extract, cache_dir, settings)


@torch.no_grad()
def evaluate_generator(generator: nn.Module, split: EvalSplit, inception: nn.Module | None = None,
                       real_stats: tuple[np.ndarray, np.ndarray] | None = None,
                       cache_dir: Path | None = None, settings: dict[str, Any] | None = None,
                       device: str | torch.device = "cpu", kid_subsets: int = 100) -> dict[str, Any]:
    """Metrics of `generator` on `split`. With `inception`: FID (against `real_stats` if given, else
    the split's real images) and KID (needs real features, so not with a bare `real_stats` file)."""
    generator = generator.eval().to(device)
    sums, fake_feats = PairedSums(), []
    for x, truth in tqdm(split.sources(), total=-(-split.count // 8), desc=f"translate {split.generator}",
                         unit="batch", mininterval=2.0, leave=False):
        fake = to_unit(generator(x.to(device)).cpu())
        if truth is not None:
            sums.add(fake, to_unit(truth))
        if inception is not None:
            fake_feats.append(fid.inception_features(inception, [fake], device))
    out: dict[str, Any] = {"images": split.count}
    if sums.count:
        out.update(sums.means())
    if inception is None:
        return out
    fakes = np.concatenate(fake_feats)
    if real_stats is None:
        reals = real_features(split, inception, device, cache_dir, settings or {})
        mu, sigma = fid.statistics(reals)
        out["kid"], out["kid_std"] = fid.kid(fakes, reals, subsets=kid_subsets)
        out["real_images"] = len(reals)
    else:
        mu, sigma = real_stats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "singular product": fewer fakes than 2048 dims
        out["fid"] = fid.frechet_distance(*fid.statistics(fakes), mu, sigma)
    return out
