"""`coronet data download`: verification, extraction and the offline message (no internet used)."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from coronet.cli.main import main
from coronet.data import UnalignedDataset
from coronet.data.download import DATASETS, Remote, download
from coronet.errors import DataError


def _zip_dataset(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "tiny2zebra"
    for split in ("trainA", "trainB", "testA", "testB"):
        (src / split).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(src / split / "0.jpg")
    archive = tmp_path / "tiny2zebra.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in src.rglob("*.jpg"):
            z.write(f, f.relative_to(src.parent))
    return archive


def test_download_verifies_and_extracts_into_the_standard_layout(tmp_path):
    archive = _zip_dataset(tmp_path)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    remote = Remote(archive.as_uri(), "unaligned", size=archive.stat().st_size, sha256=digest)
    folder = download("tiny2zebra", tmp_path / "datasets", remote=remote)
    assert folder == tmp_path / "datasets" / "tiny2zebra"
    assert len(UnalignedDataset(folder)) == 1
    assert (folder / "SHA256").read_text().startswith(digest)
    assert not list((tmp_path / "datasets").glob("*.zip*"))


def test_tar_archive_with_another_top_folder_is_renamed(tmp_path):
    src = tmp_path / "weird_name" / "train"
    src.mkdir(parents=True)
    Image.new("RGB", (16, 8)).save(src / "1_AB.jpg")
    archive = tmp_path / "pairs.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(tmp_path / "weird_name", arcname="weird_name")
    folder = download("pairs", tmp_path / "datasets", remote=Remote(archive.as_uri(), "aligned"))
    assert (folder / "train" / "1_AB.jpg").is_file()


@pytest.mark.parametrize("field", ["size", "sha256"])
def test_a_wrong_size_or_checksum_is_refused_and_cleaned_up(tmp_path, field):
    archive = _zip_dataset(tmp_path)
    remote = Remote(archive.as_uri(), "unaligned", **{field: 12345 if field == "size" else "ab" * 32})
    with pytest.raises(DataError, match="expected"):
        download("tiny2zebra", tmp_path / "datasets", remote=remote)
    assert not (tmp_path / "datasets" / "tiny2zebra").exists()
    assert not list((tmp_path / "datasets").iterdir())


def test_offline_failure_names_the_url_and_the_layout(tmp_path):
    remote = Remote("http://127.0.0.1:9/horse2zebra.zip", "unaligned")  # nothing listens there
    with pytest.raises(DataError, match=r"127\.0\.0\.1:9/horse2zebra\.zip.*trainA/ trainB/"):
        download("horse2zebra", tmp_path, remote=remote)


def test_cli_lists_the_standard_sets_and_refuses_unknown_ones(capsys):
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    for name in ("horse2zebra", "summer2winter_yosemite", "edges2shoes", "edges2shoes-r",
                 "facades", "maps"):
        assert name in listing
    assert DATASETS["horse2zebra"].size == 116_867_962
    with pytest.raises(SystemExit):
        main(["data", "download", "nope"])
