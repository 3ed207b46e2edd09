"""Deployment: ONNX export in FP32 / FP16 / INT8 (each checked against PyTorch) and CPU latency."""

from coronet.deploy.latency import measure_interleaved, onnx_runner, torch_runner
from coronet.deploy.onnx_export import DTYPES, ExportCheck, export_onnx, run_onnx

__all__ = ["DTYPES", "ExportCheck", "export_onnx", "measure_interleaved", "onnx_runner", "run_onnx",
           "torch_runner"]
