"""ExecuTorch programs (`.pte`) of a generator for phones, lowered to the XNNPACK CPU delegate.

The generator is first rewritten (coronet.deploy.rewrite) so that the whole graph delegates. FP16
computes in half precision with FP32 input and output; INT8 is PyTorch's PT2E static quantisation
with XNNPACK's quantizer (symmetric, per-channel weights) calibrated on real images, the rewritten
instance norms kept in float. Every program is run by the ExecuTorch runtime and compared with the
PyTorch output. ExecuTorch is an optional install: `pip install "coronet[executorch]"`.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coronet.deploy.onnx_export import ExportCheck, check_export, check_request
from coronet.deploy.rewrite import ExplicitInstanceNorm2d, rewrite_for_mobile
from coronet.errors import ConfigError
from coronet.files import atomic_write

MISSING = ("ExecuTorch is not installed; `pip install \"coronet[executorch]\"` adds it (export "
           "--format pte and its latency in bench need it)")


def require_executorch() -> None:
    try:
        with quiet():
            import executorch.exir  # noqa: F401
            import executorch.runtime  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING) from None


@contextmanager
def quiet() -> Iterator[None]:
    """ExecuTorch's native runtime logs CPU probing to the process's stderr and torchao warns through
    torch's logging on import: silenced while inside (shown only if what runs inside fails)."""
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace")[-4000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _quantized(model: nn.Module, example: tuple[torch.Tensor], calibration: np.ndarray) -> nn.Module:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer()
    quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True))
    quantizer.set_module_type(ExplicitInstanceNorm2d, None)  # statistics stay in float
    prepared = prepare_pt2e(torch.export.export(model, example).module(), quantizer)
    with torch.no_grad():
        for image in calibration:
            prepared(torch.from_numpy(image[None]).float())
    return convert_pt2e(prepared)


class _Float32Io(nn.Module):
    """An FP16 model with FP32 input and output, as the ONNX FP16 export keeps them."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def lower(generator: nn.Module, input_size: tuple[int, int], dtype: str = "fp32",
          calibration: np.ndarray | None = None) -> bytes:
    """The `.pte` program of `generator` at batch 1 and `input_size`, in `dtype`."""
    require_executorch()
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    check_request(dtype, calibration, generator)
    model = rewrite_for_mobile(generator.cpu())
    example = (torch.zeros(1, 3, *input_size),)
    if dtype == "int8":
        model = _quantized(model, example, calibration)
    elif dtype == "fp16":
        model = _Float32Io(model.half())
    with torch.no_grad():
        exported = torch.export.export(model, example)
    program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    return program.buffer


def pte_runner(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the program on one float32 (1, 3, H, W) array, in the ExecuTorch runtime."""
    require_executorch()
    from executorch.runtime import Runtime

    with quiet():
        method = Runtime.get().load_program(Path(path)).load_method("forward")

    def run(x: np.ndarray) -> np.ndarray:
        return method.execute([torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))])[0].numpy()

    return run


def pte_latency_runner(path: str | Path, size: tuple[int, int], threads: int) -> Callable[[], None]:
    """One inference of the program on a fixed random input, with XNNPACK on `threads` threads."""
    require_executorch()
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

    _unsafe_reset_threadpool(threads)  # one process-wide pool; every program timed here shares it
    run = pte_runner(path)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, *size)).astype(np.float32)

    def once() -> None:
        run(x)

    return once


def export_pte(generator: nn.Module, path: str | Path, input_size: tuple[int, int], dtype: str = "fp32",
               calibration: np.ndarray | None = None,
               check_images: np.ndarray | None = None) -> ExportCheck:
    """Write `path` (.pte) and check it against the PyTorch output on `check_images` (float32
    (N, 3, H, W) in [-1, 1]; random ones when none are given)."""
    path = Path(path)
    generator = generator.eval().cpu()
    with quiet():
        buffer = lower(generator, input_size, dtype, calibration)
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer))
    run = pte_runner(path)
    return check_export(generator, path, dtype, input_size, check_images,
                        lambda images: np.concatenate([run(images[i:i + 1]) for i in range(len(images))]))
