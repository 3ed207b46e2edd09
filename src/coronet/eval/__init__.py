"""Measurements of a built model: MACs and parameters (torchprofile), later FID and latency."""

from coronet.eval.complexity import COUNTER, count_macs, count_params

__all__ = ["COUNTER", "count_macs", "count_params"]
