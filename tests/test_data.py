"""Datasets: the two layouts, image modes, transforms, and the errors users see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from coronet.data import (
    AlignedDataset,
    BuiltinDataset,
    TransformConfig,
    UnalignedDataset,
    load_rgb,
    make_dataset,
    write_builtin,
)
from coronet.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _pair(path: Path, left: tuple, right: tuple, size: int = 16) -> None:
    ab = Image.new("RGB", (2 * size, size), left)
    ab.paste(Image.new("RGB", (size, size), right), (size, 0))
    ab.save(path)


@pytest.fixture
def aligned_root(tmp_path: Path) -> Path:
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        for i in range(3):
            _pair(tmp_path / split / f"{i}_AB.png", (255, 0, 0), (0, 0, 255))
    return tmp_path


def test_aligned_pairs_split_left_a_right_b(aligned_root):
    ds = AlignedDataset(aligned_root, "train", "AtoB", TransformConfig(16, 16, "resize", False))
    item = ds[0]
    assert item["A"].shape == (3, 16, 16)
    assert torch.allclose(item["A"][:, 8, 8], torch.tensor([1.0, -1.0, -1.0]))  # red, in [-1, 1]
    assert torch.allclose(item["B"][:, 8, 8], torch.tensor([-1.0, -1.0, 1.0]))
    swapped = AlignedDataset(aligned_root, "train", "BtoA", TransformConfig(16, 16, "resize", False))
    assert torch.equal(swapped[0]["A"], item["B"])
    test = AlignedDataset(aligned_root, "test")  # falls back to val/, bicubic to crop size
    assert len(test) == 3 and test[0]["A"].shape == (3, 256, 256)


def test_random_crop_and_flip_are_shared_by_a_and_b_and_reproducible(tmp_path):
    (tmp_path / "train").mkdir()
    rng = np.random.default_rng(0)
    half = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([half, half], 1)).save(tmp_path / "train" / "0.png")
    cfg = TransformConfig(24, 16, "resize_and_crop", True)
    ds = AlignedDataset(tmp_path, "train", cfg=cfg, seed=3)
    first = [ds[0]["A"] for _ in range(2)]
    assert torch.equal(first[0], first[1]) and torch.equal(ds[0]["A"], ds[0]["B"])
    crops = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        crops.add(ds[0]["A"].sum().item())
    assert len(crops) > 1  # different epochs draw different crops


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "F", "Ptrans"])
def test_odd_image_modes_become_rgb(tmp_path, mode):
    base = Image.new("RGB", (8, 8), (200, 100, 50))
    if mode == "I;16":
        img = Image.fromarray(np.full((8, 8), 65535, np.uint16))
        path = tmp_path / "x.png"
    elif mode == "F":
        img = Image.fromarray(np.full((8, 8), 0.5, np.float32))
        path = tmp_path / "x.tif"
    elif mode == "Ptrans":
        img = base.convert("P")
        img.info["transparency"] = 0
        path = tmp_path / "x.png"
    else:
        img = base.convert(mode)
        path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    img.save(path)
    rgb = load_rgb(path)
    assert rgb.mode == "RGB" and rgb.size == (8, 8)
    if mode == "I;16":
        assert np.asarray(rgb)[0, 0].tolist() == [255, 255, 255]  # 16-bit white stays white
    if mode == "F":
        assert np.asarray(rgb)[0, 0].tolist() == [128, 128, 128]


def test_corrupt_image_is_named_or_skipped(aligned_root):
    bad = aligned_root / "train" / "1_AB.png"
    bad.write_bytes(b"\x89PNG not really")
    ds = AlignedDataset(aligned_root, "train")
    with pytest.raises(DataError, match="1_AB.png.*skip_bad_images"):
        ds[1]
    lenient = AlignedDataset(aligned_root, "train", skip_bad_images=True)
    with pytest.warns(UserWarning, match="1_AB.png"):
        item = lenient[1]
    assert item["A_path"].endswith("2_AB.png")


def test_missing_and_empty_splits_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        AlignedDataset(tmp_path / "nowhere")
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"train holds no images"):
        AlignedDataset(tmp_path)
    (tmp_path / "trainA").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "trainA" / "a.png")
    with pytest.raises(DataError, match="trainB"):
        UnalignedDataset(tmp_path)
    with pytest.raises(DataError, match="no test split"):
        AlignedDataset(tmp_path, "test")


def test_unaligned_draws_b_reproducibly(tmp_path):
    for side, n in (("A", 3), ("B", 5)):
        (tmp_path / f"train{side}").mkdir()
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / f"train{side}" / f"{i}.png")
    ds = UnalignedDataset(tmp_path, cfg=TransformConfig(8, 8, "resize", False), seed=1)
    assert len(ds) == 5
    assert [ds[i]["B_path"] for i in range(5)] == [ds[i]["B_path"] for i in range(5)]
    swapped = UnalignedDataset(tmp_path, direction="BtoA", cfg=TransformConfig(8, 8, "resize", False))
    assert "trainB" in swapped[0]["A_path"]


def test_builtin_datasets_are_deterministic_and_paired_when_they_should_be(tmp_path):
    paired = BuiltinDataset("edges2shapes", "train", cfg=TransformConfig(32, 32, "resize", False))
    again = BuiltinDataset("edges2shapes", cfg=TransformConfig(32, 32, "resize", False))
    a1, a2 = paired[5]["A"], again[5]["A"]
    assert torch.equal(a1, a2) and paired.paired
    assert paired[5]["A"].mean() > paired[5]["B"].mean()  # white edge drawing vs coloured scene
    unpaired = BuiltinDataset("shapes2stripes", "test", cfg=TransformConfig(32, 32, "resize", False))
    assert not unpaired.paired and len(unpaired) == 50
    out = write_builtin("edges2shapes", tmp_path, size=32)
    files = sorted((out / "train").glob("*.png"))
    assert len(files) == 2000 and Image.open(files[0]).size == (64, 32)
    reread = make_dataset(str(out), True, "test", "AtoB", TransformConfig(32, 32, "resize", False))
    assert len(reread) == 50


def test_builtin_pairs_are_drawn_once_and_every_epoch_still_gets_its_own_crop_and_flip(monkeypatch):
    from coronet.data import builtin

    drawn = []
    render = builtin.render_photo
    monkeypatch.setattr(builtin, "render_photo", lambda *a, **k: drawn.append(1) or render(*a, **k))
    ds = BuiltinDataset("edges2shapes", "train", cfg=TransformConfig(40, 32, "resize_and_crop", True))
    fresh = BuiltinDataset("edges2shapes", "train", cfg=TransformConfig(40, 32, "resize_and_crop", True))
    epochs = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        epochs.append(ds[3]["B"])
    assert len(drawn) == 1  # drawn in the first epoch, reused after
    fresh.set_epoch(2)
    assert torch.equal(fresh[3]["B"], epochs[2])  # the same item as drawing it anew
    assert not all(torch.equal(epochs[0], e) for e in epochs[1:])  # the augmentation still varies


@pytest.mark.skipif(not (SHARED / "edges2shoes-mini").is_dir(), reason="shared data not present")
def test_real_edges2shoes_mini_loads_in_the_aligned_layout():
    ds = AlignedDataset(SHARED / "edges2shoes-mini", "train", cfg=TransformConfig(128, 128, "resize", False))
    assert len(ds) == 120
    item = ds[0]
    assert item["A"].shape == item["B"].shape == (3, 128, 128)
    assert item["A"].mean() > item["B"].mean()  # edge maps are mostly white
    assert len(AlignedDataset(SHARED / "edges2shoes-mini", "test")) == 30


@pytest.mark.skipif(not (SHARED / "photo2monet-mini").is_dir(), reason="shared data not present")
def test_real_photo2monet_mini_loads_in_the_unaligned_layout():
    ds = UnalignedDataset(SHARED / "photo2monet-mini", cfg=TransformConfig(72, 64))
    assert len(ds) == 1000 and ds[3]["B"].shape == (3, 64, 64)
    assert len(UnalignedDataset(SHARED / "photo2monet-mini", "test")) == 200
