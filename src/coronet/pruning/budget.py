"""The user's compression target, resolved to an absolute cost and checked before any training."""

from __future__ import annotations

import math
from dataclasses import dataclass

from coronet.errors import BudgetError
from coronet.pruning.cost import CostModel

METRICS = ("macs", "params", "latency")
LATENCY_UNITS_PER_MS = 10**9  # the latency form counts picoseconds: integers, exact like MACs


def amount(metric: str, value: float) -> str:
    """A cost as a message shows it: counts with separators, latency in milliseconds."""
    if metric == "latency":
        return f"{value / LATENCY_UNITS_PER_MS:.3g} ms"
    shown = f"{value:,.0f}" if value >= 1000 or value == int(value) else f"{value:g}"
    return f"{shown} {'MACs' if metric == 'macs' else 'parameters'}"


@dataclass(frozen=True)
class BudgetTarget:
    """A target as a ratio of the dense model's cost, or as an absolute count (MACs or params)."""

    metric: str = "macs"
    ratio: float | None = None
    absolute: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise BudgetError(f"unknown target metric {self.metric!r}; use one of {METRICS}")
        if (self.ratio is None) == (self.absolute is None):
            raise BudgetError("give the target as exactly one of a ratio or an absolute count")
        if self.ratio is not None and not 0.0 < self.ratio <= 1.0:
            raise BudgetError(
                f"target ratio {self.ratio} is outside (0, 1]: it is the fraction of the dense "
                f"model's {self.metric} to keep, e.g. 0.25 for a 4x smaller model")
        if self.absolute is not None and self.absolute <= 0:
            raise BudgetError(f"absolute target {self.absolute:g} {self.metric} must be > 0")


@dataclass(frozen=True)
class Budget:
    """A resolved target: where the search must land, `[lower, limit]`, in `metric` units."""

    metric: str
    dense: int
    limit: int  # the user's budget; never exceeded
    lower: int  # (1 - tolerance) * limit
    floor: int  # cost with every prunable group at its minimum channel count

    @property
    def ratio(self) -> float:
        return self.limit / self.dense


def resolve_budget(target: BudgetTarget, cost_model: CostModel, min_channels: int,
                   tolerance: float = 0.02) -> Budget:
    """Turn a target into absolute bounds, rejecting one no network of this layout can meet."""
    if target.metric not in cost_model.metrics:
        raise BudgetError(f"the cost model has no {target.metric} form; a latency target needs a latency "
                          "model (CostModel.add_form)")
    dense_widths = cost_model.dense_widths
    dense = cost_model.cost(target.metric, dense_widths)
    floor_widths = {g.name: (min(min_channels, g.size) if g.prunable else g.size)
                    for g in cost_model.layout.groups}
    floor = cost_model.cost(target.metric, floor_widths)
    wanted = target.ratio * dense if target.ratio is not None else float(target.absolute)
    limit = math.floor(wanted)
    m = target.metric
    if m == "latency" and not floor <= limit <= dense:
        raise BudgetError(f"a latency of {amount(m, wanted)} is outside what this generator reaches: "
                          f"{amount(m, floor)} (every prunable group at {min_channels} channels) to "
                          f"{amount(m, dense)} (dense), as its latency model predicts; give a target in "
                          "that range")
    if limit > dense:
        raise BudgetError(f"target of {amount(m, wanted)} is above the dense model's {amount(m, dense)}; "
                          f"give at most {amount(m, dense)} or a ratio <= 1")
    if limit < floor:
        absolute = (" (a value above 1 is an absolute count; a share of the dense model is a ratio "
                    "in (0, 1])" if m != "latency" and target.absolute is not None
                    and target.absolute < floor / 1000 else "")
        raise BudgetError(
            f"target of {amount(m, wanted)}{absolute} (ratio {wanted / dense:.4g}) is below the smallest "
            f"network this generator can become: {amount(m, floor)} (ratio {floor / dense:.4f}) with every "
            f"prunable group at {min_channels} channels and the RGB layers intact. Raise the "
            f"target or lower the minimum channel count (prune.min_channels).")
    return Budget(target.metric, dense, limit, math.ceil((1.0 - tolerance) * wanted), floor)
