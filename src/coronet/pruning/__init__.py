"""The method: convolutions generated from latent vectors, pruned by the task's gradient to a budget.

Reading order: `hyperconv` (how weights are generated), `latents` (z and alive masks per group),
`hypernet` (wrap a generator; `materialize` the compact one), `cost` (MACs/params of any widths),
`budget` (the user's target), `controller` (the ranking, the deaths and the exact landing).
`baselines` is not the method: the uniform and magnitude-pruned generators it is compared with.
"""

from coronet.pruning.baselines import filter_l1_norms, magnitude_prune, uniform_widths
from coronet.pruning.budget import LATENCY_UNITS_PER_MS, Budget, BudgetTarget, resolve_budget
from coronet.pruning.controller import PAPER_SHRINK, BudgetController, ControllerConfig, ControllerStatus
from coronet.pruning.cost import CostModel
from coronet.pruning.hyperconv import FROM_SCRATCH_LR_SCALE, HyperConv
from coronet.pruning.hypernet import HyperGenerator, hypernetize, lr_groups, materialize
from coronet.pruning.latents import LatentVectors
from coronet.pruning.proximal import soft_threshold_

__all__ = [
    "FROM_SCRATCH_LR_SCALE",
    "LATENCY_UNITS_PER_MS",
    "PAPER_SHRINK",
    "filter_l1_norms",
    "magnitude_prune",
    "uniform_widths",
    "Budget",
    "BudgetController",
    "BudgetTarget",
    "ControllerConfig",
    "ControllerStatus",
    "CostModel",
    "HyperConv",
    "HyperGenerator",
    "LatentVectors",
    "hypernetize",
    "lr_groups",
    "materialize",
    "resolve_budget",
    "soft_threshold_",
]
