"""Downloading the standard datasets into the layouts the loaders read.

Archives come from the hosts the reference projects use (docs/method.md). A download goes to a
`.partial` file, is checked against the size the server announced and the size/SHA-256 known
here or given by the user, then extracted; offline it fails with the URL and where to put the
files by hand.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from coronet.errors import DataError

_CYCLEGAN = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"
_PIX2PIX = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{}.tar.gz"
_GANC = "https://huggingface.co/mit-han-lab/gan-compression/resolve/main/datasets/{}.tar.gz"


@dataclass(frozen=True)
class Remote:
    url: str
    layout: str  # "unaligned" or "aligned"
    size: int | None = None  # bytes, where a reliable listing gives it
    sha256: str | None = None


DATASETS: dict[str, Remote] = {
    **{name: Remote(_CYCLEGAN.format(name), "unaligned") for name in (
        "apple2orange", "summer2winter_yosemite", "monet2photo", "cezanne2photo", "ukiyoe2photo",
        "vangogh2photo", "iphone2dslr_flower", "maps", "cityscapes", "facades")},
    "horse2zebra": Remote(_CYCLEGAN.format("horse2zebra"), "unaligned", size=116_867_962),
    **{name: Remote(_PIX2PIX.format(name), "aligned") for name in (
        "edges2shoes", "edges2handbags", "facades_pix2pix", "night2day")},
    "maps_pix2pix": Remote(_PIX2PIX.format("maps"), "aligned", size=250_242_400),
    "edges2shoes-r": Remote(_GANC.format("edges2shoes-r"), "aligned"),
}


def download(name: str, root: str | Path = "datasets", sha256: str | None = None,
             remote: Remote | None = None) -> Path:
    """Fetch, verify and extract dataset `name` into `root`; returns the dataset folder."""
    if remote is None:
        if name not in DATASETS:
            raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
        remote = DATASETS[name]
    root = Path(root)
    target = root / name
    if target.is_dir() and any(target.iterdir()):
        return target
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(remote.url).name
    partial = archive.with_name(archive.name + ".partial")
    layout = ("trainA/ trainB/ testA/ testB/" if remote.layout == "unaligned"
              else "train/ and val/ (or test/) of side-by-side A|B images")
    try:
        digest = _fetch(remote.url, partial)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"could not download {remote.url} ({getattr(exc, 'reason', exc)}). Without internet, "
            f"download it on another machine and extract it so that {target} holds {layout}."
        ) from None
    size = partial.stat().st_size
    if remote.size is not None and size != remote.size:
        partial.unlink()
        raise DataError(f"{remote.url} gave {size:,} bytes, expected {remote.size:,}; try again")
    expected = sha256 or remote.sha256
    if expected and digest != expected.lower():
        partial.unlink()
        raise DataError(f"{remote.url} has SHA-256 {digest}, expected {expected}; try again")
    partial.rename(archive)
    _extract(archive, root, name)
    (target / "SHA256").write_text(f"{digest}  {archive.name}\n")
    archive.unlink()
    return target


def _fetch(url: str, dest: Path) -> str:
    """Stream `url` to `dest` with a progress bar; returns the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=30) as response, dest.open("wb") as out:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced else None
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, mininterval=1.0) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    if total is not None and dest.stat().st_size != total:
        raise OSError(f"connection closed after {dest.stat().st_size:,} of {total:,} bytes")
    return digest.hexdigest()


def _extract(archive: Path, root: Path, name: str) -> None:
    """Unpack into root; archives hold one top folder, renamed to `name` if it differs."""
    tmp = root / f".extract-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{archive} is not a readable archive ({exc}); delete it and try again") from None
    entries = [p for p in tmp.iterdir() if not p.name.startswith("__MACOSX")]
    source = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
    shutil.move(str(source), str(root / name))
    shutil.rmtree(tmp, ignore_errors=True)
