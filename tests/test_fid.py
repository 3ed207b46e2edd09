"""FID/KID: the math against independent computations, and the weight-loading path without the
real weights (which cannot be downloaded here)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from coronet.errors import CheckpointError
from coronet.eval import fid


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift


def test_frechet_distance_matches_an_independent_scipy_computation():
    a, b = _features(300, 12, 0), _features(250, 12, 1, shift=0.5)
    mu1, s1 = fid.statistics(a)
    mu2, s2 = fid.statistics(b)
    np.testing.assert_allclose(mu1, a.mean(0))
    np.testing.assert_allclose(s1, np.cov(a.T))
    # independent route: Tr(sqrt(S1 S2)) from the eigenvalues of sqrt(S1) S2 sqrt(S1) (symmetric)
    r1 = scipy.linalg.sqrtm(s1).real
    eig = np.linalg.eigvalsh(r1 @ s2 @ r1)
    root_trace = np.sum(np.sqrt(np.clip(eig, 0, None)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * root_trace
    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    from pytorch_fid.fid_score import calculate_frechet_distance  # what GAN Compression, OMGD, CAT run

    assert fid.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-9)
    assert fid.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6)


def test_kid_equals_the_unbiased_mmd_written_out():
    a, b = _features(20, 5, 2), _features(20, 5, 3, shift=0.2)

    def k(x, y):
        return (x @ y / 5 + 1) ** 3

    m = 20
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    mean, std = fid.kid(a, b, subsets=1, subset_size=20)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-9) and std == 0.0


def test_inception_loads_a_state_dict_with_the_official_key_layout(tmp_path):
    torch.manual_seed(0)
    state = fid.fid_inception_architecture().state_dict()
    assert "Mixed_7c.branch3x3dbl_3a.conv.weight" in state and "fc.weight" in state
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    model = fid.load_inception(path, download=False, sha256_prefix=None)
    loaded = {k: v for k, v in model.state_dict().items() if k.endswith("Mixed_7c.branch_pool.conv.weight")}
    assert all(torch.equal(v, state["Mixed_7c.branch_pool.conv.weight"]) for v in loaded.values())
    images = [torch.rand(2, 3, 64, 64)]  # any size: resized to 299 bilinearly inside
    feats = fid.inception_features(model, images)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()


def test_wrong_weights_are_refused_with_the_reason(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(fid.fid_inception_architecture().state_dict(), path)
    with pytest.raises(CheckpointError, match="6726825d"):
        fid.load_inception(path, download=False)  # random weights: wrong SHA-256 prefix
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="key layout"):
        fid.load_inception(tmp_path / "other.pth", download=False, sha256_prefix=None)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(fid.ENV_VAR, raising=False)
    with pytest.raises(CheckpointError, match=r"pt_inception-2015-12-05-6726825d\.pth.*CORONET_FID_WEIGHTS"):
        fid.locate_weights(download=False)
    import pytorch_fid.inception as pfi

    monkeypatch.setattr(pfi, "FID_WEIGHTS_URL", "http://127.0.0.1:9/pt_inception.pth")  # offline
    with pytest.raises(CheckpointError, match="127.0.0.1:9"):
        fid.locate_weights(download=True)
    monkeypatch.setenv(fid.ENV_VAR, str(tmp_path / "w.pth"))
    (tmp_path / "w.pth").write_bytes(b"x")
    assert fid.locate_weights(download=False) == tmp_path / "w.pth"


def test_a_named_weights_file_that_is_missing_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    fid.hub_path().parent.mkdir(parents=True)
    fid.hub_path().write_bytes(b"cached")  # a usable file in the cache must not stand in for a typo
    monkeypatch.delenv(fid.ENV_VAR, raising=False)
    assert fid.locate_weights(download=False) == fid.hub_path()
    with pytest.raises(CheckpointError, match=r"--fid-weights names .*typo\.pth, which is not a file"):
        fid.locate_weights(tmp_path / "typo.pth", download=True)
    monkeypatch.setenv(fid.ENV_VAR, str(tmp_path / "env-typo.pth"))
    with pytest.raises(CheckpointError, match=r"\$CORONET_FID_WEIGHTS names .*env-typo\.pth"):
        fid.locate_weights(download=True)


def test_real_statistics_are_cached_and_recomputed_when_the_data_changes(tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / f"{i}.png"
        f.write_bytes(bytes([i]) * 10)
        files.append(f)
    calls = []

    def extract(paths):
        calls.append(len(paths))
        return _features(len(paths) * 10, 4, len(calls))

    settings = {"resize": 256, "weights": fid.SHA256_PREFIX}
    first = fid.cached_real_statistics(files, extract, tmp_path / "cache", settings)
    second = fid.cached_real_statistics(files, extract, tmp_path / "cache", settings)
    assert calls == [3] and all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))
    cached = next((tmp_path / "cache").glob("real_stat_*.npz"))
    mu, sigma = fid.load_statistics(cached)  # the real_stat .npz format: keys mu, sigma
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    files[0].write_bytes(b"changed!")
    fid.cached_real_statistics(files, extract, tmp_path / "cache", settings)
    assert calls == [3, 3]
    fid.cached_real_statistics(files, extract, tmp_path / "cache", {**settings, "resize": 128})
    assert calls == [3, 3, 3]
    with pytest.raises(CheckpointError, match="mu"):
        np.savez(tmp_path / "bad.npz", m=np.zeros(2))
        fid.load_statistics(tmp_path / "bad.npz")
