"""Which images an evaluation uses: the protocol of GAN Compression, OMGD and CAT (docs/method.md).

- Sources: every test image of the generator's source domain (aligned: the `test`, else `val`,
  split; unaligned: `testA` for G_A, `testB` for G_B), resized straight to the evaluation size
  (bicubic, no crop, no flip), in file order.
- Real statistics: Pix2Pix - the ground-truth targets of that same split (edges2shoes-r val B);
  CycleGAN - train + test images of the target domain (horse2zebra_B = 1,334 + 140 zebras).
Images stream in batches, so a 2,048-image split never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from coronet.data import PREFIX, AlignedDataset, TransformConfig, UnalignedDataset, load_rgb, make_dataset
from coronet.data import transforms as T

NO_DRAW = T.Draw(0.0, 0.0, False)


@dataclass
class EvalSplit:
    generator: str  # G_A or G_B
    count: int  # number of source images
    sources: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor | None]]]  # (input, truth) [-1, 1]
    reals: Callable[[], Iterator[torch.Tensor]]  # real images of the target domain, [-1, 1]
    real_count: int
    real_files: list[Path] | None  # the files behind the real statistics (cache key); None: built-in
    real_description: str


def _batched(items: Sequence, batch: int) -> Iterator[Sequence]:
    for i in range(0, len(items), batch):
        yield items[i:i + batch]


def _file_batches(files: Sequence[Path], cfg: TransformConfig, batch: int) -> Iterator[torch.Tensor]:
    for chunk in _batched(files, batch):
        yield torch.stack([T.apply(load_rgb(f), cfg, NO_DRAW) for f in chunk])


def _item_batches(dataset, keys: tuple[str, ...], indices: Sequence[int], batch: int):
    for chunk in _batched(indices, batch):
        items = [dataset[i] for i in chunk]
        yield tuple(torch.stack([it[k] for it in items]) for k in keys)


def evaluation_split(dataroot: str, model: str, generator: str, direction: str = "AtoB",
                     size: int = 256, batch: int = 8) -> EvalSplit:
    """The sources and reals for evaluating `generator` ("G_A": A->B, "G_B": B->A)."""
    cfg = TransformConfig(size, size, "resize", False)
    src, tgt = ("B", "A") if generator == "G_B" else ("A", "B")
    if model == "pix2pix":
        if generator != "G_A":
            raise ValueError("a Pix2Pix run has one generator, G_A")
        test = make_dataset(dataroot, True, "test", direction, cfg)
        idx = range(len(test))
        sources = lambda: _item_batches(test, ("A", "B"), idx, batch)  # noqa: E731
        reals = lambda: (b for (b,) in _item_batches(test, ("B",), idx, batch))  # noqa: E731
        files = list(test.paths) if isinstance(test, AlignedDataset) else None
        where = "the test split's ground-truth targets"
        return EvalSplit(generator, len(test), sources, reals, len(test), files,
                         f"{where} ({len(test)} images, {direction} B side)")
    if dataroot.startswith(PREFIX):
        test = make_dataset(dataroot, False, "test", direction, cfg)
        train = make_dataset(dataroot, False, "train", direction, cfg.for_test())
        n = len(test)
        sources = lambda: ((x, None) for (x,) in _item_batches(test, (src,), range(n), batch))  # noqa: E731

        def reals() -> Iterator[torch.Tensor]:
            for ds in (train, test):
                yield from (x for (x,) in _item_batches(ds, (tgt,), range(len(ds)), batch))

        return EvalSplit(generator, n, sources, reals, len(train) + n, None,
                         f"built-in train + test {tgt} images")
    test = UnalignedDataset(Path(dataroot), "test", direction, cfg)
    train = UnalignedDataset(Path(dataroot), "train", direction, cfg)
    source_files = test.a_paths if src == "A" else test.b_paths
    real_files = (train.b_paths + test.b_paths) if tgt == "B" else (train.a_paths + test.a_paths)
    return EvalSplit(
        generator, len(source_files),
        lambda: ((x, None) for x in _file_batches(source_files, cfg, batch)),
        lambda: _file_batches(real_files, cfg, batch), len(real_files), list(real_files),
        f"train + test images of the target domain ({len(real_files)} images)")
