"""CPU latency of generators, measured the way a deployment sees it: batch 1, after warm-up,
median of many runs, several models interleaved so machine noise hits them alike.

Runners are zero-argument callables doing one inference; `torch_runner` and `onnx_runner` build
them for PyTorch eager and onnxruntime with a stated thread count.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import onnxruntime


def torch_runner(model: nn.Module, size: tuple[int, int], threads: int) -> Callable[[], None]:
    model = model.eval().cpu()
    x = torch.rand(1, 3, *size) * 2 - 1

    def run() -> None:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            model(x)

    return run


def onnx_session(path: str | Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session whose worker threads sleep, not spin, once a run ends.

    Spinning is onnxruntime's default; when models are timed interleaved, the threads of the model
    that just ran keep spinning on the cores the next model needs. Measured on 2 cores at 256x256:
    a 5.7 GMAC ResNet-9 ran in 87 ms alone but 117 ms right after the 57 GMAC dense one, and 85 ms
    with spinning off. Alone, spinning changes its latency by under 1%. threads=None: onnxruntime's
    default (one per physical core).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_runner(path: str | Path, size: tuple[int, int], threads: int) -> Callable[[], None]:
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, *size)).astype(np.float32)
    return lambda: session.run(None, {name: x}) and None


def summarize(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": 1e3 * statistics.median(ordered),
            "p10_ms": 1e3 * ordered[int(0.1 * (len(ordered) - 1))],
            "p90_ms": 1e3 * ordered[int(0.9 * (len(ordered) - 1))], "runs": len(ordered)}


def measure_interleaved(runners: dict[str, Callable[[], None]], runs: int = 30, warmup: int = 5,
                        progress: Callable[[int], None] | None = None) -> dict[str, dict[str, float]]:
    """Median latency of every runner; round r runs them all, in alternating order, so slow
    spells of a shared machine are spread over all of them instead of one."""
    if runs < 1 or warmup < 0:
        raise ValueError("runs must be >= 1 and warmup >= 0")
    for _ in range(warmup):
        for run in runners.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(runs):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
        if progress is not None:
            progress(r + 1)
    return {name: summarize(t) for name, t in times.items()}
