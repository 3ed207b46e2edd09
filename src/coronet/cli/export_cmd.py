"""`coronet export`: ONNX files of a run's exported generator(s), each checked against PyTorch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from coronet.config import from_dict
from coronet.data import TransformConfig, list_images, load_rgb
from coronet.data import transforms as T
from coronet.deploy import DTYPES, export_onnx
from coronet.errors import CheckpointError, ConfigError
from coronet.gan import setup
from coronet.models import load_generator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run's generator(s) to ONNX (FP32/FP16/INT8)",
                       description="Write RUN/onnx/NAME.DTYPE.onnx for every exported generator of "
                                   "a run (or for one generator file), check each against the "
                                   "PyTorch output (PSNR) and record the checks in report.json.")
    p.add_argument("run", type=Path, help="a run folder, or one exported generator (.json)")
    p.add_argument("--format", default="onnx", choices=("onnx",))
    p.add_argument("--dtype", nargs="+", default=["fp32"], choices=DTYPES)
    p.add_argument("--calibration-images", type=int, default=32,
                   help="real training images used to calibrate INT8")
    p.add_argument("--images", type=Path,
                   help="folder of real images for calibration/checks (needed for a bare generator file)")


def _folder_images(folder: Path, size: int, limit: int) -> np.ndarray:
    cfg = TransformConfig(size, size, "resize", False)
    files = list_images(folder, "calibration image")[:limit]
    return np.stack([T.apply(load_rgb(f), cfg, T.Draw(0, 0, False)).numpy() for f in files])


def _run_images(run: Path, name: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(calibration from the training split, checks from the test split), test-time preprocessing."""
    cfg = from_dict(json.loads((run / "config.json").read_text()))
    cfg = cfg.updated({"data.preprocess": "resize", "data.flip": False, "data.load_size": cfg.data.crop_size})
    train, test = setup.make_datasets(setup.resolve_defaults(cfg))
    side = "B" if name == "G_B" else "A"
    pick = lambda ds, n: np.stack([ds[i][side].numpy() for i in range(min(n, len(ds)))])  # noqa: E731
    return pick(train, limit), pick(test, 8)


def run(args: argparse.Namespace) -> int:
    if args.run.is_dir():
        report_path = args.run / "report.json"
        if not report_path.is_file():
            raise CheckpointError(f"{args.run} has no report.json; is it a finished coronet run?")
        report = json.loads(report_path.read_text())
        targets = {name: args.run / files[1] for name, files in report["exported"].items()}
        out_dir = args.run / "onnx"
    else:
        report_path, report = None, None
        targets = {args.run.stem: args.run.with_suffix(".json")}
        out_dir = args.run.parent / "onnx"
    results: dict[str, dict] = {}
    for name, meta_path in targets.items():
        generator = load_generator(meta_path)
        size = json.loads(meta_path.read_text()).get("input_size") or 256
        if args.images is not None:
            calib = _folder_images(args.images, size, args.calibration_images)
            checks = calib[:8]
        elif report is not None:
            calib, checks = _run_images(args.run, name, args.calibration_images)
        else:
            raise ConfigError("a bare generator file needs --images DIR (real images) to calibrate "
                              "and check the export")
        for dtype in args.dtype:
            check = export_onnx(generator, out_dir / f"{name}.{dtype}.onnx", (size, size), dtype,
                                calibration=calib.astype(np.float32), check_images=checks.astype(np.float32))
            results.setdefault(name, {})[dtype] = {
                "path": str(Path(check.path).relative_to(out_dir.parent)), "psnr_db": check.psnr_db,
                "max_abs_diff": check.max_abs_diff, "check_images": check.images,
                "size_bytes": Path(check.path).stat().st_size}
            print(f"{name} {dtype}: {check.path}  PSNR vs PyTorch {check.psnr_db:.2f} dB "
                  f"(max |diff| {check.max_abs_diff:.2e}, {check.images} images)")
    if report is not None and report_path is not None:
        report.setdefault("onnx", {}).update(results)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
    return 0
