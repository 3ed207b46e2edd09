"""Odd, broken and hostile inputs, fed to the commands as a user would: each case ends in one line
and exit code 2, or in a correct result; never a traceback; no earlier output changes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from coronet.cli.main import main
from coronet.data import AlignedDataset
from coronet.errors import DataError
from coronet.models import get_generator, load_reference_state_dict
from test_run_folders import _error_lines, _finished


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return _finished(tmp_path_factory.mktemp("hostile"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".coronet.lock"}


def _fails(capsys, args: list[str], *needles: str) -> str:
    """The command exits with 2 and one line that holds every needle."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def _images(folder: Path, names: list[str], size: int = 32) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / name)
    return folder


# ------------------------------------------------------------------ translate: images in, images out
def test_translate_mirrors_subfolders_and_keeps_names_apart(run_dir, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["x/a.png", "y/a.png", "b.png", "b.jpg"])
    before = _snapshot(run_dir)
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out")]) == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["b_jpg.png", "b_png.png", "x/a.png", "y/a.png"]
    assert "wrote 4 images of 32x32" in capsys.readouterr().out
    assert _snapshot(run_dir) == before


def test_translate_never_writes_over_an_input(run_dir, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["a.png", "sub/a.png"])
    before = _snapshot(inputs)
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(inputs)], "OUTPUT_DIR is INPUT_DIR")
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(inputs / "sub")], "would overwrite an input")
    assert _snapshot(inputs) == before


@pytest.mark.parametrize("size", ["33", "3", "0"])
def test_translate_refuses_a_size_the_network_does_not_take(run_dir, tmp_path, capsys, size):
    inputs = _images(tmp_path / "in", ["a.png"])
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(tmp_path / "out"), "--size", size],
           f"--size {size} does not fit resnet_9blocks", "multiples of 4")
    assert not (tmp_path / "out").exists()


def _write_bad(folder: Path, kind: str) -> None:
    path = folder / "bad.png"
    if kind == "text named as an image":
        path.write_text("not an image")
    elif kind == "truncated":
        Image.new("RGB", (32, 32), "red").save(path)
        path.write_bytes(path.read_bytes()[:40])
    elif kind == "empty file":
        path.write_bytes(b"")


@pytest.mark.parametrize("kind", ["text named as an image", "truncated", "empty file"])
def test_unreadable_images_stop_with_the_file_named_or_are_skipped(run_dir, tmp_path, capsys, kind):
    inputs = _images(tmp_path / "in", ["good.png"])
    _write_bad(inputs, kind)
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(tmp_path / "out")],
           "bad.png", "--skip-bad-images")
    capsys.readouterr()
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out"), "--skip-bad-images"]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 images" in out and "skipped 1 unreadable" in out
    assert (tmp_path / "out" / "good.png").is_file()


def test_a_decompression_bomb_is_named_or_skipped(run_dir, tmp_path, capsys, monkeypatch):
    inputs = _images(tmp_path / "in", ["good.png"], size=8)
    Image.new("RGB", (64, 64)).save(inputs / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 > 2 x 1000: PIL calls it a bomb
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(tmp_path / "out")], "bomb.png",
           "decompression bomb")
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out"), "--skip-bad-images"]) == 0


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_every_image_mode_translates(run_dir, tmp_path, mode):
    inputs = tmp_path / "in"
    inputs.mkdir()
    img = Image.new(mode, (20, 20))
    img.save(inputs / ("a.tif" if mode in ("I;16", "I", "F", "CMYK") else "a.png"))
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out")]) == 0
    assert Image.open(next((tmp_path / "out").iterdir())).size == (32, 32)


def test_links_and_link_loops_list_each_image_once(run_dir, tmp_path, capsys):
    inputs = _images(tmp_path / "in", ["a/x.png"])
    os.symlink("..", inputs / "a" / "up")
    os.symlink("../a", inputs / "a" / "again")
    os.symlink("x.png", inputs / "a" / "same.png")
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out")]) == 0
    assert "wrote 1 images" in capsys.readouterr().out


@pytest.mark.parametrize("layout", ["missing", "empty", "only non-images"])
def test_empty_or_missing_input_folders_are_one_line(run_dir, tmp_path, capsys, layout):
    inputs = tmp_path / "in"
    if layout != "missing":
        inputs.mkdir()
    if layout == "only non-images":
        (inputs / "readme.txt").write_text("hi")
    _fails(capsys, ["translate", str(run_dir), str(inputs), str(tmp_path / "out")], str(inputs),
           "INPUT_DIR")


# ------------------------------------------------------------------ generator files a hand has edited
EDITS = {
    "not JSON": lambda meta: "{ this is not json",
    "a JSON list": lambda meta: "[1, 2]",
    "no widths": lambda meta: json.dumps({k: v for k, v in meta.items() if k != "widths"}),
    "negative width": lambda meta: json.dumps({**meta, "widths": {k: -3 for k in meta["widths"]}}),
    "wider than the weights": lambda meta: json.dumps(
        {**meta, "widths": {k: v + 1 for k, v in meta["widths"].items()}}),
    "unknown network": lambda meta: json.dumps({**meta, "name": "resnet_99blocks"}),
    "text input size": lambda meta: json.dumps({**meta, "input_size": "big"}),
    "newer format": lambda meta: json.dumps({**meta, "format_version": 99}),
}


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("command", ["translate", "profile", "eval", "bench"])
def test_an_edited_generator_description_is_one_line(run_dir, tmp_path, capsys, edit, command):
    folder = tmp_path / "g"
    folder.mkdir()
    meta = json.loads((run_dir / "G_A.json").read_text())
    (folder / "G_A.json").write_text(EDITS[edit](meta))
    (folder / "G_A.safetensors").write_bytes((run_dir / "G_A.safetensors").read_bytes())
    inputs = _images(tmp_path / "in", ["a.png"])
    args = {"translate": ["translate", str(folder / "G_A.json"), str(inputs), str(tmp_path / "out")],
            "profile": ["profile", str(folder / "G_A.json")],
            "eval": ["eval", str(folder / "G_A.json"), "--no-fid", "--dataroot", "builtin:edges2shapes"],
            "bench": ["bench", str(folder / "G_A.json"), "--runs", "1", "--warmup", "0"]}[command]
    _fails(capsys, args, "G_A.json")


# ------------------------------------------------------------------ run folders that are not finished runs
def test_commands_on_a_folder_that_is_not_a_finished_run(run_dir, tmp_path, capsys):
    half = tmp_path / "half"
    half.mkdir()
    (half / "checkpoint-latest.pt").write_bytes((run_dir / "checkpoint-latest.pt").read_bytes())
    (half / "config.json").write_text((run_dir / "config.json").read_text())
    for command in ("eval", "export", "bench", "translate"):
        extra = [str(tmp_path), str(tmp_path / "o")] if command == "translate" else []
        _fails(capsys, [command, str(half), *extra], "not a finished coronet run",
               f"coronet compress --resume {half}")
    _fails(capsys, ["eval", str(tmp_path / "nowhere")], "nowhere")


def test_an_edited_report_is_one_line_and_left_as_it_was(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run_dir.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    (copy / "report.json").write_text('{"exported": ')
    _fails(capsys, ["eval", str(copy), "--no-fid"], "report.json is not valid JSON")
    (copy / "report.json").write_text('{"exported": {}}')
    _fails(capsys, ["bench", str(copy)], "lists no exported generators")
    assert (copy / "report.json").read_text() == '{"exported": {}}'


@pytest.mark.parametrize("config", ['{"data": ', '{"data": {"crop_size": "big"}}', '{"nonsense": 1}'])
def test_an_edited_config_is_one_line(run_dir, tmp_path, capsys, config):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in run_dir.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    (copy / "config.json").write_text(config)
    _fails(capsys, ["eval", str(copy), "--no-fid"], "config.json")


def test_an_out_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").write_text("not a folder")
    _fails(capsys, ["compress", "--out", str(tmp_path / "runs")], "runs", "a file stands where a folder")
    assert (tmp_path / "runs").read_text() == "not a folder"


def test_resume_of_a_missing_or_foreign_folder(tmp_path, capsys):
    _fails(capsys, ["compress", "--resume", str(tmp_path / "nowhere")], "no run folder at")
    (tmp_path / "foreign").mkdir()
    _fails(capsys, ["compress", "--resume", str(tmp_path / "foreign")], "no checkpoint at")
    (tmp_path / "foreign" / "checkpoint-latest.pt").write_bytes(b"garbage")
    _fails(capsys, ["compress", "--resume", str(tmp_path / "foreign")], "not a readable coronet checkpoint")


# ------------------------------------------------------------------ sizes and targets at the start of a run
@pytest.mark.parametrize(("args", "needle"), [
    (["--crop-size", "33"], "--crop-size 33 does not fit resnet_9blocks"),
    (["--crop-size", "4", "--load-size", "4"], "use 8"),
    (["--netG", "unet_256"], "--crop-size 64 does not fit unet_256"),
    (["--crop-size", "80", "--load-size", "72"], "larger than --load-size 72"),
    (["--target-macs", "1.5"], "target of 1.5 MACs (a value above 1 is an absolute count"),
    (["--target-macs", "-0.5"], "in (0, 1] or an absolute count above 1 (got -0.5)"),
    (["--batch-size", "0"], "batch_size"),
    (["--set", "data.preprocess=stretch"], "preprocess"),
])
def test_impossible_run_settings_leave_no_folder(tmp_path, capsys, args, needle):
    _fails(capsys, ["compress", "--out", str(tmp_path / "runs"), *args], needle)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("args", [["--crop-size", "33"], ["--netG", "unet_256"]])
def test_the_dry_run_refuses_what_the_run_would(capsys, args):
    _fails(capsys, ["compress", "--dry-run", *args], "does not fit")


def test_profile_refuses_sizes_the_network_cannot_take(capsys):
    _fails(capsys, ["profile", "--netG", "unet_256", "--size", "100"], "use 256")
    _fails(capsys, ["profile", "--ngf", "0"], "--ngf")


# ------------------------------------------------------------------ datasets
def test_a_square_image_in_a_paired_folder_is_named_not_split(tmp_path):
    root = tmp_path / "pairs"
    _images(root / "train", ["pair.png"], size=16)
    Image.new("RGB", (32, 16)).save(root / "train" / "pair.png")
    Image.new("RGB", (16, 16)).save(root / "train" / "single.png")
    ds = AlignedDataset(root, "train")
    with pytest.raises(DataError, match=r"single\.png is 16x16.*side by side.*--model cyclegan"):
        ds[1]
    skipping = AlignedDataset(root, "train", skip_bad_images=True)
    with pytest.warns(UserWarning, match="single.png"):
        assert skipping[1]["A_path"].endswith("pair.png")


# ------------------------------------------------------------------ checkpoints from elsewhere
def test_a_pickle_payload_is_refused_without_torchs_unsafe_advice(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    torch.save({"model.0.weight": Payload()}, tmp_path / "evil.pth")
    line = _fails(capsys, ["compress", "--init-from", str(tmp_path / "evil.pth"), "--out",
                           str(tmp_path / "runs")], "evil.pth", "refuses it")
    assert "weights_only" not in line and "owned" not in line


def test_a_batch_norm_checkpoint_names_the_settings_that_load_it(tmp_path, capsys):
    reference = get_generator("resnet_9blocks", ngf=16, norm="batch", use_dropout=True)
    torch.save(reference.state_dict(), tmp_path / "latest_net_G.pth")
    _fails(capsys, ["compress", "--init-from", str(tmp_path / "latest_net_G.pth"), "--out",
                    str(tmp_path / "runs")], "--set model.norm=batch", "--set model.use_dropout=true")
    ours = get_generator("resnet_9blocks", ngf=16, norm="batch", use_dropout=True)
    load_reference_state_dict(ours, tmp_path / "latest_net_G.pth")  # the named settings do load it
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(),
                                                 reference.state_dict().values(), strict=True))


def test_gan_compression_resnets_with_a_dropout_slot_load(tmp_path, capsys):
    """GAN Compression's ResnetBlock keeps a Dropout(0) between its convolutions, so its keys after
    the first convolution sit one index further (conv_block.6 for our conv_block.5)."""
    with_slot = get_generator("resnet_9blocks", ngf=8, use_dropout=True)
    torch.save(with_slot.state_dict(), tmp_path / "gan_compression.pth")
    plain = get_generator("resnet_9blocks", ngf=8)
    load_reference_state_dict(plain, tmp_path / "gan_compression.pth")
    x = torch.randn(1, 3, 32, 32)
    with_slot.eval()
    plain.eval()
    assert torch.equal(plain(x), with_slot(x))
    assert "dropout" in capsys.readouterr().err


def test_translate_keeps_each_images_size_rounded_to_what_the_network_takes(run_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (52, 40), "white").save(inputs / "fits.png")
    Image.new("RGB", (50, 37), "white").save(inputs / "odd.png")
    assert main(["translate", str(run_dir), str(inputs), str(tmp_path / "out"), "--keep-size"]) == 0
    assert Image.open(tmp_path / "out" / "fits.png").size == (52, 40)
    assert Image.open(tmp_path / "out" / "odd.png").size == (48, 36)  # nearest multiples of 4
    assert "1 resized to the nearest sides resnet_9blocks takes" in capsys.readouterr().out
