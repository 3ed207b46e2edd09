"""`coronet export`: ONNX files of a run's exported generator(s), each checked against PyTorch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from coronet.cli.arguments import reclaim_positional
from coronet.data import TransformConfig, list_images, load_rgb
from coronet.data import transforms as T
from coronet.deploy import DTYPES
from coronet.deploy.formats import FORMATS
from coronet.errors import ConfigError
from coronet.gan import setup
from coronet.models import load_generator, read_generator_meta
from coronet.runs import RunDir, exported_generators


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run's generator(s) to ONNX or ExecuTorch (FP32/FP16/INT8)",
                       description="Write RUN/FORMAT/NAME.DTYPE.FORMAT for every exported generator "
                                   "of a run (or for one generator file): ONNX for onnxruntime, or an "
                                   "ExecuTorch program (.pte, XNNPACK) for phones; check each against "
                                   "the PyTorch output (PSNR) and record the checks in report.json.")
    p.add_argument("run", type=Path, nargs="?", metavar="RUN_DIR",
                   help="a run folder, or one exported generator (.json)")
    p.add_argument("--format", default="onnx", choices=tuple(FORMATS),
                   help="onnx (onnxruntime) or pte (ExecuTorch; pip install \"coronet[executorch]\")")
    p.add_argument("--dtype", nargs="+", default=["fp32"], metavar="DTYPE",
                   help=f"one or more of {', '.join(DTYPES)}")
    p.add_argument("--calibration-images", type=int, default=32,
                   help="real training images used to calibrate INT8")
    p.add_argument("--images", type=Path,
                   help="folder of real images for calibration/checks (needed for a bare generator file)")


def _folder_images(folder: Path, size: int, limit: int) -> np.ndarray:
    cfg = TransformConfig(size, size, "resize", False)
    files = list_images(folder, "calibration image", "--images")[:limit]
    return np.stack([T.apply(load_rgb(f), cfg, T.Draw(0, 0, False)).numpy() for f in files])


def _run_images(run: RunDir, name: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(calibration from the training split, checks from the test split), test-time preprocessing."""
    cfg = run.read_config()
    cfg = cfg.updated({"data.preprocess": "resize", "data.flip": False, "data.load_size": cfg.data.crop_size})
    train, test = setup.make_datasets(setup.resolve_defaults(cfg))
    side = "B" if name == "G_B" else "A"
    pick = lambda ds, n: np.stack([ds[i][side].numpy() for i in range(min(n, len(ds)))])  # noqa: E731
    return pick(train, limit), pick(test, 8)


def run(args: argparse.Namespace) -> int:
    args.dtype, args.run = reclaim_positional(args.dtype, args.run, DTYPES, "--dtype", "RUN_DIR")
    if args.calibration_images < 1:
        raise ConfigError("--calibration-images must be at least 1")
    if args.run.is_dir():
        run_dir = RunDir.finished(args.run, "export")
        with run_dir.writing("export"):
            targets = exported_generators(run_dir)
            results = _export(args, targets, run_dir.path, run_dir)
            section = run_dir.read_report().get(args.format, {})  # earlier data types stay
            for name, by_dtype in results.items():
                section[name] = {**section.get(name, {}), **by_dtype}
            run_dir.update_report({args.format: section})
        return 0
    if args.images is None:
        raise ConfigError("a bare generator file needs --images DIR (real images) to calibrate "
                          "and check the export")
    _export(args, {args.run.stem: args.run.with_suffix(".json")}, args.run.parent, None)
    return 0


def _export(args: argparse.Namespace, targets: dict[str, Path], folder: Path,
            run_dir: RunDir | None) -> dict[str, dict]:
    fmt = FORMATS[args.format]
    fmt.require()  # before any image is read
    results: dict[str, dict] = {}
    for name, meta_path in targets.items():
        size = read_generator_meta(meta_path).get("input_size") or 256
        generator = load_generator(meta_path)
        if args.images is not None:
            calib = _folder_images(args.images, size, args.calibration_images)
            checks = calib[:8]
        else:
            calib, checks = _run_images(run_dir, name, args.calibration_images)
        for dtype in args.dtype:
            print(f"{name} {dtype}: exporting for {fmt.runtime}"
                  + (" (lowering to XNNPACK takes a minute or more)" if fmt.name == "pte" else "") + " ...",
                  file=sys.stderr, flush=True)
            check = fmt.export(generator, fmt.path(folder, name, dtype), (size, size), dtype,
                               calibration=calib.astype(np.float32), check_images=checks.astype(np.float32))
            results.setdefault(name, {})[dtype] = {
                "path": str(Path(check.path).relative_to(folder)), "psnr_db": check.psnr_db,
                "max_abs_diff": check.max_abs_diff, "check_images": check.images,
                "size_bytes": Path(check.path).stat().st_size}
            print(f"{name} {dtype}: {check.path}  PSNR vs PyTorch {check.psnr_db:.2f} dB "
                  f"(max |diff| {check.max_abs_diff:.2e}, {check.images} images)")
    return results
