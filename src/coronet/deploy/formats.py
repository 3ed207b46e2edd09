"""The deployment formats a run can be exported to, each with the runtime that runs it.

A run keeps its artefacts at `RUN/FORMAT/NAME.DTYPE.FORMAT` (e.g. `onnx/G_A.int8.onnx`,
`pte/G_A.fp32.pte`), and `report.json` records each export's check under the format's name;
`coronet bench` times every artefact it finds in the runtime it was made for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coronet.deploy.executorch_export import (  # imports ExecuTorch lazily
    export_pte,
    pte_latency_runner,
    require_executorch,
)
from coronet.deploy.latency import onnx_runner
from coronet.deploy.onnx_export import DTYPES, ExportCheck, export_onnx


@dataclass(frozen=True)
class DeployFormat:
    name: str  # the file suffix, the run's subfolder and its report.json section
    runtime: str  # what runs the file, as latency tables name it
    export: Callable[..., ExportCheck]  # (generator, path, size, dtype, calibration=, check_images=)
    runner: Callable[[Path, tuple[int, int], int], Callable[[], None]]  # (path, size, threads)
    require: Callable[[], None] = lambda: None  # one line naming the extra when the runtime is missing

    def path(self, folder: Path, generator: str, dtype: str) -> Path:
        return folder / self.name / f"{generator}.{dtype}.{self.name}"

    def backend(self, dtype: str) -> str:
        return f"{self.runtime}-{dtype}"


FORMATS = {f.name: f for f in (
    DeployFormat("onnx", "onnxruntime", export_onnx, onnx_runner),
    DeployFormat("pte", "executorch", export_pte, pte_latency_runner, require_executorch),
)}
BACKENDS = ("torch", *(f.backend(d) for f in FORMATS.values() for d in DTYPES))
