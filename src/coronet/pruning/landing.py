"""Which channel deaths keep an exact landing possible: arithmetic on width vectors.

Every width vector has an exact integer cost (`CostModel`), so whether deaths can still end inside
the landing window [lower, limit] is a question about integers, answered without the network.
"""

from __future__ import annotations

import numpy as np

from coronet.pruning.budget import Budget
from coronet.pruning.cost import CostModel

# A death is checked by the lookahead only when it leaves the cost within this many of the largest
# single saving above the limit. Farther away, deaths of every size remain to steer into the window
# (and the lookahead, a greedy walk to the window, costs one savings vector per simulated death).
LOOKAHEAD_SAVINGS = 4


class Landing:
    """The landing window of one budget over the widths of one cost model."""

    def __init__(self, cost_model: CostModel, budget: Budget, prunable: np.ndarray,
                 floor_width: np.ndarray) -> None:
        self.cost_model = cost_model
        self.budget = budget
        self.prunable = prunable  # per group: may it lose channels at all
        self.floor_width = floor_width  # per group: the fewest channels it keeps

    def cost(self, w: np.ndarray) -> int:
        return self.cost_model.cost_vector(self.budget.metric, w)

    def savings(self, w: np.ndarray) -> np.ndarray:
        """Per group, what one death there saves at widths `w`."""
        return self.cost_model.savings_vector(self.budget.metric, w)

    def may_die(self, w: np.ndarray) -> np.ndarray:
        return self.prunable & (w > self.floor_width)

    def keeps_landing_reachable(self, w: np.ndarray, group: int, cost: int, savings: np.ndarray) -> bool:
        """Whether, after one death in `group` (cost `cost` before it), deaths can still end inside
        the window: near the window a large death could leave only steps that jump past it."""
        after = cost - int(savings[group])
        if after <= self.budget.limit or after - self.budget.limit > LOOKAHEAD_SAVINGS * int(
                savings[self.prunable].max()):
            return True
        w = w.copy()
        w[group] -= 1
        while after > self.budget.limit:
            step_savings = self.savings(w)
            j = self.largest_fitting_death(step_savings, w, after)
            if j is None:
                return False
            w[j] -= 1
            after -= int(step_savings[j])
        return True

    def largest_fitting_death(self, savings: np.ndarray, w: np.ndarray, cost: int) -> int | None:
        """The group whose death saves most while the cost stays inside or above the window."""
        allowed = self.may_die(w) & (cost - savings >= self.budget.lower)
        if not allowed.any():
            return None
        return int(np.where(allowed, savings, -1).argmax())
