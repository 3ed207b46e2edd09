"""A latency model of a generator on one runtime: measured, fitted, cached, checked.

The search spends a budget through a cost that is a quadratic form of the channel widths (MACs,
parameters). Latency is made one too: the exported generator is timed at random width settings on
the runtime it will run on, and the time is fitted as a non-negative sum of the parts a runtime
spends it on (`CostModel.part_forms`: MACs of full, transposed and depthwise convolutions, the input
patches the full ones gather, the elements every layer writes, a fixed cost per run), weighted for
relative error. The fitted
weights are cached per generator, input size, runtime (and its version), data type, threads and
machine, so a model is measured once; a cache entry whose key differs is measured again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls
from tqdm import tqdm

from coronet.deploy.formats import FORMATS, DeployFormat
from coronet.deploy.latency import measure_interleaved
from coronet.errors import ConfigError
from coronet.files import atomic_write
from coronet.models.base import Generator
from coronet.pruning.cost import LATENCY_PARTS, CostModel

RUNTIMES = {"onnxruntime": "onnx", "executorch": "pte"}  # runtime -> deploy format
LATENCY_DTYPES = ("fp32", "int8")
CACHE_VERSION = 2  # bump when the fit changes, so older cache entries are measured again


@dataclass(frozen=True)
class Runtime:
    """Where the exported generator will run: the runtime, its data type and its threads."""

    name: str = "onnxruntime"
    dtype: str = "fp32"
    threads: int = 2

    def __post_init__(self) -> None:
        if self.name not in RUNTIMES:
            raise ConfigError(f"latency runtime {self.name!r} is not one coronet measures; use "
                              f"{' or '.join(RUNTIMES)}")
        if self.dtype not in LATENCY_DTYPES:
            raise ConfigError(f"latency data type {self.dtype!r}: use {' or '.join(LATENCY_DTYPES)}")
        if self.threads < 1:
            raise ConfigError(f"latency threads must be >= 1 (got {self.threads})")

    @property
    def format(self) -> DeployFormat:
        return FORMATS[RUNTIMES[self.name]]

    def version(self) -> str:
        self.format.require()  # one line naming the extra when the runtime is missing
        return metadata.version(self.name)

    def describe(self) -> str:
        return f"{self.name} {self.dtype.upper()}, {self.threads} thread{'s' if self.threads > 1 else ''}"


def time_generators(generators: Mapping[str, Generator], size: tuple[int, int], runtime: Runtime,
                    runs: int = 15, warmup: int = 3, desc: str | None = None) -> dict[str, float]:
    """Median milliseconds of each generator exported to `runtime`, each timed alone, as it runs
    when deployed. (Timed interleaved with 44 others, whose weights take turns in the caches, the
    searched mobile ResNet's time was over-predicted by 40 %: docs/results.md.)"""
    fmt = runtime.format
    fmt.require()
    rng = np.random.default_rng(0)
    calibration = rng.uniform(-1, 1, (4, 3, *size)).astype(np.float32)  # INT8 ranges; timing only
    timed: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="coronet-latency-") as folder:
        for i, (name, generator) in enumerate(tqdm(generators.items(), desc=desc, unit="model",
                                                   disable=desc is None, leave=False)):
            path = fmt.path(Path(folder), name, runtime.dtype)
            fmt.export(generator, path, size, runtime.dtype, calibration=calibration,
                       check_images=calibration[:1])
            run = fmt.runner(path, size, runtime.threads)
            if i == 0:
                warm_up(run)
            timed[name] = measure_interleaved({name: run}, runs=runs, warmup=warmup)[name]["median_ms"]
            del run
            path.unlink()
    return timed


def warm_up(run: Callable[[], None], seconds: float = 3.0) -> None:
    """Run one model for a few seconds before timing: right after the exports the first timings of
    a process ran about 1.5x slow on a 2-core machine for several seconds (and the warm-up runs of
    `measure_interleaved` were too short to cover it)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        run()


def random_widths(cost: CostModel, rng: np.random.Generator, min_channels: int) -> dict[str, int]:
    """A width setting like one a search passes through: an overall share of the dense widths,
    varied group by group."""
    share = rng.uniform(0.1, 1.0)
    widths = {}
    for g in cost.layout.groups:
        low = min(min_channels, g.size)
        wanted = round(g.size * share * rng.uniform(0.4, 1.6)) if g.prunable else g.size
        widths[g.name] = int(min(max(wanted, low), g.size))
    return widths


def fit(parts: list[dict[str, float]], measured_us: list[float]) -> dict[str, float]:
    """Non-negative weights of the parts that predict the measured times with the least squared
    relative error (a latency budget is a share of the time, so every setting counts alike)."""
    a = np.array([[p[name] for name in LATENCY_PARTS] for p in parts], dtype=np.float64)
    y = np.asarray(measured_us, dtype=np.float64)
    scale = a.max(axis=0)
    scale[scale == 0] = 1.0
    weights, _ = nnls(a / scale / y[:, None], np.ones_like(y))
    return {name: float(w / s) for name, w, s in zip(LATENCY_PARTS, weights, scale, strict=True)}


def part_values(cost: CostModel, widths: Mapping[str, int]) -> dict[str, float]:
    w = cost.vector(widths).astype(np.float64)
    return {name: float(w @ q @ w + b @ w + c) for name, (q, b, c) in cost.part_forms().items()}


def predict_us(weights: Mapping[str, float], cost: CostModel, widths: Mapping[str, int]) -> float:
    values = part_values(cost, widths)
    return sum(weights[name] * values[name] for name in weights)


def measure_settings(dense: Generator, size: tuple[int, int], runtime: Runtime,
                     settings: list[dict[str, int]], runs: int, desc: str | None) -> list[float]:
    """Milliseconds of the generator at each width setting (fresh weights: time does not depend on
    their values)."""
    models = {f"w{i}": dense.spec.build(widths) for i, widths in enumerate(settings)}
    timed = time_generators(models, size, runtime, runs=runs, desc=desc)
    return [timed[f"w{i}"] for i in range(len(settings))]


def calibrate(dense: Generator, size: tuple[int, int], runtime: Runtime, min_channels: int,
              samples: int = 24, runs: int = 15, seed: int = 0, desc: str | None = "latency model") -> dict:
    """Time the generator at the dense widths and `samples` random settings, and
    fit the weights of its parts; returns the model (weights in microseconds per unit of each part)."""
    cost = CostModel(dense, size)
    settings = calibration_settings(cost, min_channels, samples, seed)
    return fit_model(cost, settings, measure_settings(dense, size, runtime, settings, runs, desc))


def calibration_settings(cost: CostModel, min_channels: int, samples: int,
                         seed: int = 0) -> list[dict[str, int]]:
    """The dense widths, then `samples` random settings. (The smallest widths are left out: no search
    goes there, and fitted with equal weight they pulled the fixed cost up by a third.)"""
    rng = np.random.default_rng(seed)
    return [dict(cost.dense_widths)] + [random_widths(cost, rng, min_channels) for _ in range(samples)]


def fit_model(cost: CostModel, settings: list[dict[str, int]], measured_ms: list[float]) -> dict:
    """The model fitted to `calibration_settings` timed as `measured_ms`, with its in-sample error."""
    weights = fit([part_values(cost, w) for w in settings], [1e3 * ms for ms in measured_ms])
    errors = [predict_us(weights, cost, w) / (1e3 * ms) - 1
              for w, ms in zip(settings, measured_ms, strict=True)]
    return {"weights": weights, "dense_ms": measured_ms[0], "fit_error": error_summary(errors),
            "samples": len(settings), "measured_ms": list(measured_ms)}  # of `calibration_settings`


def error_summary(errors: list[float]) -> dict[str, float]:
    magnitudes = [abs(e) for e in errors]
    return {"median": statistics.median(magnitudes), "worst": max(magnitudes),
            "mean_signed": statistics.mean(errors)}


def cache_key(dense: Generator, size: tuple[int, int], runtime: Runtime) -> dict[str, Any]:
    """What a measured model depends on: the generator's layout, the input size, the runtime and
    its version, the data type, the threads and the machine."""
    return {"version": CACHE_VERSION, "generator": dense.spec.to_dict(), "widths": dense.widths,
            "input_size": list(size), **asdict(runtime), "runtime_version": runtime.version(),
            "machine": machine()}


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"system": platform.system(), "arch": platform.machine(), "cpu": cpu, "cores": os.cpu_count()}


def cache_dir() -> Path:
    """$CORONET_CACHE, else the user's cache folder ($XDG_CACHE_HOME or ~/.cache) / coronet."""
    if os.environ.get("CORONET_CACHE"):
        return Path(os.environ["CORONET_CACHE"]) / "latency"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "coronet" / "latency"


def cached(dense: Generator, size: tuple[int, int], runtime: Runtime,
           folder: Path | None = None) -> tuple[Path, bool]:
    """Where the model for this generator and runtime is cached, and whether a valid one is there."""
    key = cache_key(dense, size, runtime)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = (folder or cache_dir()) / f"{digest}.json"
    try:
        model = json.loads(path.read_text())
        return path, model.get("key") == key and set(model.get("weights", {})) == set(LATENCY_PARTS)
    except (OSError, ValueError, AttributeError):
        return path, False


def latency_model(dense: Generator, size: tuple[int, int], runtime: Runtime, min_channels: int,
                  folder: Path | None = None, **calibration: Any) -> Path:
    """The file of the cached model for this generator and runtime, measured (with a progress bar)
    when the cache has none with the same key."""
    path, valid = cached(dense, size, runtime, folder)
    if valid:
        return path
    key = cache_key(dense, size, runtime)
    model = {"key": key, **calibrate(dense, size, runtime, min_channels, **calibration)}
    text = json.dumps(model, indent=2) + "\n"
    try:
        atomic_write(path, lambda tmp: tmp.write_text(text))
    except OSError:  # a cache that cannot be written costs a measurement next time, not this run
        path = Path(tempfile.mkdtemp(prefix="coronet-latency-")) / path.name
        path.write_text(text)
    return path
