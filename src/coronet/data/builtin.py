"""Built-in datasets drawn by the package itself, so coronet runs with no download.

`edges2shapes` (paired, Pix2Pix): A is an outline drawing of one to three shapes that do not
overlap, each outline in a dark shade of its shape's colour, B the shaded, coloured scene (discs
red, boxes blue, triangles green). The translation fills and shades each outline, as edges2shoes
turns edges into a shoe; the colour is in the outline, so the quickstart's small model learns it
within its minutes (from black outlines it had to tell the kinds apart, and did not).
`shapes2stripes` (unpaired, CycleGAN): A holds plain shaded scenes on a light background; B holds
other scenes whose shapes carry zebra stripes under a dusk sky, like horse2zebra.
Every image is a pure function of (dataset, split, index): the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from torch.utils.data import Dataset

from coronet.data import transforms as T

BUILTIN = {"edges2shapes": True, "shapes2stripes": False}  # name -> paired
PREFIX = "builtin:"
# edges2shapes: enough scenes that the quickstart (2700 steps of 4) sees each only a few times
SPLIT_SIZES = {"edges2shapes": {"train": 2000, "test": 50}, "shapes2stripes": {"train": 400, "test": 50}}
_KIND_COLOURS = {"disc": (205, 60, 50), "box": (45, 90, 200), "triangle": (60, 160, 70)}
_SS = 4  # supersampling factor for anti-aliased drawing


@dataclass(frozen=True)
class Shape:
    kind: str
    cx: float
    cy: float
    r: float
    angle: float


def _scene(rng: np.random.Generator) -> list[Shape]:
    """One to three shapes that do not overlap (a shape whose place is taken is left out), so every
    outline is whole and its kind, which decides its colour, can be read from it."""
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(1, 4))):
        kind = ("disc", "box", "triangle")[int(rng.integers(3))]
        s = Shape(kind, float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.25, 0.75)),
                  float(rng.uniform(0.12, 0.22)), float(rng.uniform(0, math.pi)))
        if all(math.hypot(s.cx - o.cx, s.cy - o.cy) > 1.05 * (s.r + o.r) for o in shapes):
            shapes.append(s)
    return shapes


def _polygon(s: Shape, size: int, shrink: float = 1.0, dx: float = 0.0, dy: float = 0.0):
    cx, cy, r = (s.cx + dx) * size, (s.cy + dy) * size, s.r * size * shrink
    if s.kind == "disc":
        return [(cx - r, cy - r), (cx + r, cy + r)]
    corners = 4 if s.kind == "box" else 3
    return [(cx + r * math.cos(s.angle + 2 * math.pi * k / corners),
             cy + r * math.sin(s.angle + 2 * math.pi * k / corners)) for k in range(corners)]


def _draw(d: ImageDraw.ImageDraw, s: Shape, size: int, fill=None, outline=None, width=1,
          shrink=1.0, dx=0.0, dy=0.0) -> None:
    pts = _polygon(s, size, shrink, dx, dy)
    if s.kind == "disc":
        d.ellipse(pts, fill=fill, outline=outline, width=width)
    else:
        d.polygon(pts, fill=fill, outline=outline, width=width)


def _background(size: int, top, bottom) -> Image.Image:
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return Image.fromarray(np.repeat(rows, size, axis=1).astype(np.uint8), "RGB")


def render_photo(shapes: list[Shape], size: int, striped: bool = False) -> Image.Image:
    big = size * _SS
    if striped:
        img = _background(big, (40, 40, 80), (110, 80, 90))  # dusk
    else:
        img = _background(big, (235, 235, 225), (200, 205, 215))
    d = ImageDraw.Draw(img)
    for s in shapes:
        base = np.array(_KIND_COLOURS[s.kind])
        _draw(d, s, big, fill=tuple((base * 0.55).astype(int)), dx=0.015, dy=0.02)  # shadow side
        _draw(d, s, big, fill=tuple(base))
        _draw(d, s, big, fill=tuple(np.minimum(base + 70, 255)), shrink=0.45, dx=-0.05 * s.r,
              dy=-0.05 * s.r)  # highlight
        if striped:
            mask = Image.new("L", (big, big), 0)
            _draw(ImageDraw.Draw(mask), s, big, fill=255)
            stripes = Image.new("L", (big, big), 0)
            ds = ImageDraw.Draw(stripes)
            period = max(big // 10, 4)
            for k in range(-big, 2 * big, period):
                ds.line([(k, 0), (k + big, big)], fill=255, width=period // 2)
            dark = Image.new("RGB", (big, big), (20, 20, 20))
            img.paste(dark, (0, 0), Image.fromarray(np.minimum(np.asarray(mask), np.asarray(stripes))))
    return img.filter(ImageFilter.GaussianBlur(_SS / 3)).resize((size, size), Image.LANCZOS)


def render_edges(shapes: list[Shape], size: int) -> Image.Image:
    big = size * _SS
    img = Image.new("RGB", (big, big), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for s in shapes:  # each outline in a dark shade of the colour its shape is painted
        ink = tuple(int(c * 0.7) for c in _KIND_COLOURS[s.kind])
        _draw(d, s, big, outline=ink, width=max(_SS, big // 64))
    return img.resize((size, size), Image.LANCZOS)


class BuiltinDataset(Dataset):
    """A built-in dataset with the same interface as the folder datasets."""

    def __init__(self, name: str, phase: str = "train", direction: str = "AtoB",
                 cfg: T.TransformConfig | None = None, seed: int = 0,
                 length: int | None = None) -> None:
        from coronet.errors import ConfigError

        name = name.removeprefix(PREFIX)
        if name not in BUILTIN:
            raise ConfigError(f"unknown built-in dataset {name!r}; choose one of {sorted(BUILTIN)}")
        self.name, self.paired = name, BUILTIN[name]
        self.split = "train" if phase == "train" else "test"
        self.train = phase == "train"
        cfg = cfg or T.TransformConfig(72, 64)
        self.cfg = cfg if self.train else cfg.for_test()
        self.swap = direction == "BtoA"
        self.seed, self.epoch = seed, 0
        self.length = length or SPLIT_SIZES[name][self.split]
        # drawing one pair at 4x supersampling takes 50-100 ms at 256x256, more than a GAN step
        # on a GPU; each pair is a pure function of its index, so it is drawn once per process
        # (about 0.4 MB a pair at 256x256: 160 MB for the 400 training pairs). Loader workers
        # (data.num_workers > 0) start afresh each epoch and draw again, in parallel.
        self._drawn: dict[int, tuple[Image.Image, Image.Image]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def images(self, index: int) -> tuple[Image.Image, Image.Image]:
        """The raw (A, B) images of sample `index`, at load size."""
        if index not in self._drawn:
            self._drawn[index] = self._draw_pair(index)
        return self._drawn[index]

    def _draw_pair(self, index: int) -> tuple[Image.Image, Image.Image]:
        size = self.cfg.load_size
        split_id = 0 if self.split == "train" else 1
        rng = np.random.default_rng([7, split_id, index])
        if self.paired:
            shapes = _scene(rng)
            return render_edges(shapes, size), render_photo(shapes, size)
        a = render_photo(_scene(rng), size)
        other = self.length if not self.train else 0
        b_rng = np.random.default_rng([8, split_id, index + other])
        return a, render_photo(_scene(b_rng), size, striped=True)

    def __getitem__(self, index: int) -> dict:
        a, b = self.images(index)
        d = T.draw(self.seed, self.epoch, index) if self.train else T.Draw(0.0, 0.0, False)
        d_b = d if self.paired or not self.train else T.draw(self.seed, self.epoch, index + 1_000_003)
        a_t, b_t = T.apply(a, self.cfg, d), T.apply(b, self.cfg, d_b)
        path = f"{PREFIX}{self.name}/{self.split}/{index:05d}"
        if self.swap:
            a_t, b_t = b_t, a_t
        return {"A": a_t, "B": b_t, "A_path": path, "B_path": path, "index": index}


def write_builtin(name: str, out: str | Path, size: int = 256) -> Path:
    """Write a built-in dataset to disk in the standard layout (aligned or unaligned)."""
    name = name.removeprefix(PREFIX)
    out = Path(out) / name
    for phase in ("train", "test"):
        ds = BuiltinDataset(name, phase, cfg=T.TransformConfig(size, size, "none", False))
        for i in range(len(ds)):
            a, b = ds.images(i)
            if ds.paired:
                (out / phase).mkdir(parents=True, exist_ok=True)
                ab = Image.new("RGB", (2 * size, size))
                ab.paste(a, (0, 0))
                ab.paste(b, (size, 0))
                ab.save(out / phase / f"{i:05d}.png")
            else:
                for side, img in (("A", a), ("B", b)):
                    (out / f"{phase}{side}").mkdir(parents=True, exist_ok=True)
                    img.save(out / f"{phase}{side}" / f"{i:05d}.png")
    return out
