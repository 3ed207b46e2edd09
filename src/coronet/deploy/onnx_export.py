"""ONNX export of a compact generator, in three data types, each checked against PyTorch.

FP32: `torch.onnx.export` (dynamo exporter, opset 18) - InstanceNorm and reflection padding
export as they are, no onnx-simplifier step needed. FP16: onnxruntime's float16 converter with
FP32 inputs/outputs kept, so callers feed the same arrays. INT8: onnxruntime static quantisation
(QDQ, per-channel int8 weights, uint8 activations) calibrated on real training images.
The check runs the exported file in onnxruntime on sample images and reports the PSNR of its
output against the PyTorch FP32 output (both mapped to [0, 1]).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coronet.deploy.latency import onnx_session
from coronet.errors import ConfigError, NonFiniteError
from coronet.files import atomic_write
from coronet.models import non_finite_entry

DTYPES = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportCheck:
    path: str
    dtype: str
    psnr_db: float  # ONNX output vs PyTorch FP32 output, images in [0, 1]
    max_abs_diff: float  # on the generator's [-1, 1] scale
    images: int


def run_onnx(path: str | Path, images: np.ndarray, threads: int | None = None) -> np.ndarray:
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images[i:i + 1]})[0] for i in range(len(images))])


def _export_fp32(generator: nn.Module, path: Path, input_size: tuple[int, int]) -> None:
    x = torch.zeros(1, 3, *input_size)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    # One self-contained file (weights inside, not in a `.data` sidecar): the file is what gets
    # copied to a phone, and a generator is far below ONNX's 2 GB single-file limit.
    torch.onnx.export(generator.eval(), (x,), str(path), dynamo=True, opset_version=18,
                      input_names=["image"], output_names=["translated"], verbose=False,
                      external_data=False)


def _to_fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))


def _to_int8(src: Path, dst: Path, calibration: np.ndarray) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter([{"image": calibration[i:i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self._items, None)

    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = dst.with_name(dst.name + ".prepared.tmp")
    root = logging.getLogger()
    level = root.level
    # the quantizer logs a warning per bias for per-channel axis 1 (ConvTranspose); biases stay float
    root.setLevel(logging.ERROR)
    try:
        quant_pre_process(str(src), str(prepared))  # shape inference + graph clean-up, as advised
        quantize_static(str(prepared), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        prepared.unlink(missing_ok=True)


def export_onnx(generator: nn.Module, path: str | Path, input_size: tuple[int, int],
                dtype: str = "fp32", calibration: np.ndarray | None = None,
                check_images: np.ndarray | None = None) -> ExportCheck:
    """Write `path` in `dtype` and check it against the PyTorch output on `check_images`.

    calibration / check_images: float32 arrays (N, 3, H, W) in [-1, 1] (INT8 needs calibration).
    """
    check_request(dtype, calibration, generator)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = generator.eval().cpu()

    def write(tmp: Path) -> None:  # into a temporary beside `path`, moved into place when complete
        if dtype == "fp32":
            _export_fp32(generator, tmp, input_size)
            return
        fp32 = path.with_name(path.name + ".fp32source.tmp")
        try:
            _export_fp32(generator, fp32, input_size)
            if dtype == "fp16":
                _to_fp16(fp32, tmp)
            else:
                _to_int8(fp32, tmp, calibration.astype(np.float32))
        finally:
            fp32.unlink(missing_ok=True)

    atomic_write(path, write)
    return check_export(generator, path, dtype, input_size, check_images,
                        lambda images: run_onnx(path, images))


def check_request(dtype: str, calibration: np.ndarray | None, generator: nn.Module | None = None) -> None:
    """One line for an unknown data type, an INT8 export without calibration images, or a generator
    whose weights are not finite (a diverged training)."""
    if generator is not None and (bad := non_finite_entry(generator)) is not None:
        raise NonFiniteError(f"{bad} of the generator holds NaN or infinite values; it is not exported "
                             f"(the training diverged: lower the learning rate)")
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose one of {DTYPES}")
    if dtype == "int8" and (calibration is None or len(calibration) == 0):
        raise ConfigError("INT8 export needs calibration images (real training images)")


def check_export(generator: nn.Module, path: Path, dtype: str, input_size: tuple[int, int],
                 check_images: np.ndarray | None,
                 run: Callable[[np.ndarray], np.ndarray]) -> ExportCheck:
    """Compare the written file's output (`run` on (N, 3, H, W) images) with PyTorch's on
    `check_images` (random ones in [-1, 1] when none are given)."""
    if check_images is None:
        check_images = np.random.default_rng(0).uniform(-1, 1, (2, 3, *input_size)).astype(np.float32)
    with torch.no_grad():
        reference = generator(torch.from_numpy(check_images)).numpy()
    out = run(check_images)
    mse = float(np.mean(((out - reference) / 2.0) ** 2))
    if not (np.isfinite(reference).all() and np.isfinite(out).all() and math.isfinite(mse)):
        raise NonFiniteError(f"{path}: the exported model's output holds NaN or infinite values on the check "
                             f"images, so the export failed its check; the file is not a usable model")
    return ExportCheck(str(path), dtype, 10 * math.log10(1.0 / max(mse, 1e-20)),
                       float(np.abs(out - reference).max()), len(check_images))
