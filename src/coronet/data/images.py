"""Finding and reading images, whatever mode they were saved in.

Users' folders hold greyscale scans, palette PNGs, RGBA cut-outs, CMYK JPEGs and 16-bit TIFFs;
all become 8-bit RGB here. A file that cannot be read is named in a `DataError` (or skipped with
a warning when the caller allows it), never a bare PIL traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from coronet.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str | Path, what: str = "images", flag: str = "--dataroot") -> list[Path]:
    """All image files under `folder` (recursively, sorted, following links), or a DataError naming
    the folder. A file reached twice (links, a link loop) is listed once."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no {what} folder at {folder}; check {flag}"
                        + (" and the dataset layout" if flag == "--dataroot" else ""))
    found, seen_dirs, seen_files = [], set(), set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        stat = os.stat(root)
        if (stat.st_dev, stat.st_ino) in seen_dirs:  # a link back into the tree: walked already
            dirs[:] = []
            continue
        seen_dirs.add((stat.st_dev, stat.st_ino))
        for f in sorted(files):
            path = Path(root) / f
            if not f.lower().endswith(IMAGE_EXTENSIONS):
                continue
            real = os.path.realpath(path)
            if real not in seen_files:
                seen_files.add(real)
                found.append(path)
    if not found:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                        f"put the {what}s there or point {flag} elsewhere")
    return sorted(found)


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image as 8-bit RGB; 16-bit and float images are rescaled, alpha is dropped."""
    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {path}: {str(exc).rstrip('.')}. Replace or delete the "
                        "file") from None


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(array.max()), 1.0)
        if img.mode == "F":
            top = 1.0 if array.max() <= 1.0 else float(array.max())
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if img.mode in ("P", "PA") and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        return img.convert("RGB")  # drops alpha, as the reference's convert('RGB') does
    return img.convert("RGB")
