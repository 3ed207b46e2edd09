"""Measurements of a trained generator: MACs and parameters (torchprofile, `complexity`), paired
metrics (`paired`), FID and KID with the Inception of pytorch-fid (`fid`) on the test splits of
the published protocols (`protocol`, `evaluate`), and the run's report (`report`)."""

from coronet.eval.complexity import COUNTER, count_macs, count_params

__all__ = ["COUNTER", "count_macs", "count_params"]
