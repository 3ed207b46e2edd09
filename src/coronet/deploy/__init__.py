"""Deployment: ONNX export in FP32 / FP16 / INT8, each checked against the PyTorch output."""

from coronet.deploy.onnx_export import DTYPES, ExportCheck, export_onnx, run_onnx

__all__ = ["DTYPES", "ExportCheck", "export_onnx", "run_onnx"]
