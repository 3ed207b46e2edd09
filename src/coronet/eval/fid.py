"""FID and KID exactly as GAN Compression, OMGD and CAT compute them (docs/method.md, protocol).

- Network: pytorch-fid's port of TF `inception-2015-12-05` with the weights
  `pt_inception-2015-12-05-6726825d.pth` (SHA-256 prefix 6726825d), pool3 features (2048-d);
  inputs in [0, 1] are resized to 299x299 bilinearly (align_corners=False) and mapped to [-1, 1]
  inside the network (pytorch-fid's `InceptionV3`, used unchanged).
- Fakes: generator output in [-1, 1] -> uint8 by truncation -> /255, in memory (`to_unit`).
- Statistics: mu = mean, sigma = np.cov(rowvar=False); the Frechet distance is pytorch-fid's
  (scipy sqrtm with the eps offset). Real statistics are cached as .npz with keys `mu` and `sigma`,
  the format of GAN Compression's `real_stat/*.npz`, which load as they are.
Weights are looked up in: the path given, $CORONET_FID_WEIGHTS, the torch hub cache; else
downloaded from pytorch-fid's release when there is internet. Nothing else is ever called FID.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch import nn

from coronet.errors import CheckpointError

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
SHA256_PREFIX = "6726825d"
ENV_VAR = "CORONET_FID_WEIGHTS"


def hub_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def locate_weights(path: str | Path | None = None, download: bool = True) -> Path:
    """Find the FID Inception weights, or download them to the hub cache; clear error if neither.

    A path the user named (the argument or $CORONET_FID_WEIGHTS) that is not a file is an error,
    not a reason to fall back to the hub cache or a download: a typo must not silently measure FID
    with a different file than the one the user meant.
    """
    for named, source in ((path, "--fid-weights"), (os.environ.get(ENV_VAR), f"${ENV_VAR}")):
        if named:
            if Path(named).is_file():
                return Path(named)
            raise CheckpointError(f"{source} names {named}, which is not a file. Fix the path to "
                                  f"{WEIGHTS_NAME}, or leave {source} unset to use {hub_path()}.")
    cached = hub_path()
    if cached.is_file():
        return cached
    from pytorch_fid.inception import FID_WEIGHTS_URL

    tried = [str(cached)]
    if download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(FID_WEIGHTS_URL, str(cached), hash_prefix=None,
                                           progress=True)
            return cached
        except Exception as exc:  # noqa: BLE001 - offline, proxy, HTTP errors alike
            tried.append(f"{FID_WEIGHTS_URL} ({exc.__class__.__name__}: {exc})")
    raise CheckpointError(
        "the FID Inception weights are not available (looked in: " + "; ".join(tried) + "). "
        f"Download {FID_WEIGHTS_URL} on a machine with internet and either put it at "
        f"{cached}, set {ENV_VAR}=/path/to/{WEIGHTS_NAME}, or pass --fid-weights. "
        "coronet does not compute FID with any other weights.")


def verify_weights(path: Path, prefix: str | None = SHA256_PREFIX) -> None:
    if prefix is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        raise CheckpointError(f"{path} has SHA-256 {digest[:12]}..., but the FID Inception weights "
                              f"start with {prefix}; this is not {WEIGHTS_NAME}")


def fid_inception_architecture() -> nn.Module:
    """pytorch-fid's FID Inception (torchvision Inception3 with the TF blocks), weights random."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def load_inception(weights: str | Path | None = None, download: bool = True,
                   sha256_prefix: str | None = SHA256_PREFIX) -> nn.Module:
    """pytorch-fid's `InceptionV3` (pool3 block, resize + normalise on) with local weights."""
    path = locate_weights(weights, download)
    verify_weights(path, sha256_prefix)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path} cannot be read as a state dict ({exc})") from None
    net = fid_inception_architecture()
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path} does not have the FID Inception key layout: {exc}") from None
    return _pool3_model(net)


def _pool3_model(net: nn.Module) -> nn.Module:
    from pytorch_fid import inception as pfi

    # InceptionV3 builds its blocks from fid_inception_v3(); hand it the given network
    with mock.patch.object(pfi, "fid_inception_v3", lambda: net):
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                                normalize_input=True, use_fid_inception=True)
    return model.eval()


def random_inception(seed: int = 0) -> nn.Module:
    """The FID pipeline (same network, resize, pool3) with seeded *random* weights.

    A Frechet distance on these features is a proxy for machines without the FID weights; it is
    reported as "FD-rand" and is never comparable with, or to be called, FID.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = fid_inception_architecture()
        for module in net.modules():  # He init keeps activations O(1) through the 94 conv layers
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return _pool3_model(net)


@torch.no_grad()
def inception_features(model: nn.Module, images: Iterable[torch.Tensor],
                       device: str | torch.device = "cpu") -> np.ndarray:
    """pool3 features of batches of images in [0, 1], shape (N, 3, H, W) -> (N, 2048)."""
    out = []
    for batch in images:
        feats = model(batch.to(device))[0]
        out.append(feats.squeeze(-1).squeeze(-1).cpu().double().numpy())
    return np.concatenate(out, 0)


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)), the algorithm of pytorch-fid's
    `calculate_frechet_distance` (and GAN Compression's copy): scipy's sqrtm, an eps*I offset when
    the product is singular, and a check that the imaginary part is numerical noise. Carried here
    because pytorch-fid 0.3.0 passes a sqrtm argument SciPy 1.18 removes."""
    import scipy.linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("the two statistics have different dimensions")
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag)):g} in sqrtm")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def kid(features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al.): unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3,
    averaged over random subsets; returns (mean, std)."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(features_a), len(features_b))
    d = features_a.shape[1]
    values = []
    for _ in range(subsets):
        x = features_a[rng.choice(len(features_a), m, replace=False)]
        y = features_b[rng.choice(len(features_b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) \
            - 2 * kxy.mean()
        values.append(mmd)
    return float(np.mean(values)), float(np.std(values))


def load_statistics(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a `.npz` with `mu` and `sigma` (ours or GAN Compression's real_stat files)."""
    try:
        with np.load(path) as f:
            return f["mu"], f["sigma"]
    except (OSError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a statistics file with 'mu' and 'sigma' ({exc})") from None


def cached_real_features(files: Sequence[Path], extract: Callable[[Sequence[Path]], np.ndarray],
                         cache_dir: str | Path, settings: dict) -> np.ndarray:
    """Real-image features, computed once per (file list, sizes, settings) and cached as .npz.

    The cache key hashes every file's path, size and modification time plus `settings` (resize,
    weights digest, ...), so a changed dataset or protocol never reuses stale statistics. The file
    holds `mu` and `sigma` (GAN Compression's real_stat format) and the features, which KID needs.
    """
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for f in sorted(files):
        st = Path(f).stat()
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    path = Path(cache_dir) / f"real_stat_{h.hexdigest()[:16]}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return f["features"]
        except (OSError, KeyError, ValueError):
            pass  # unreadable or from an older version: recompute below
    features = extract(files)
    mu, sigma = statistics(features)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, mu=mu, sigma=sigma, features=features)
    os.replace(tmp, path)
    return features


def cached_real_statistics(files: Sequence[Path], extract: Callable[[Sequence[Path]], np.ndarray],
                           cache_dir: str | Path, settings: dict) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of the cached real features (see `cached_real_features`)."""
    return statistics(cached_real_features(files, extract, cache_dir, settings))
