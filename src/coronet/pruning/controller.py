"""Drive the search to the user's budget and stop inside [1 - tolerance, 1] x target.

After every generator optimiser step, `BudgetController.step(lr)` takes four steps, in this order:
 1. `_update_importance`: each channel's importance, a moving average of the squared gradient of
    the loss with respect to its mask (`LatentVectors.mask`), the first-order estimate of what
    removing the channel costs the task;
 2. `_shrink`: the paper's proximal L1 step on the alive latents, when `shrink` > 0 (off by
    default), weighted by what each channel costs;
 3. `_remove_until(_path_goal())`: channel deaths along a straight planned path from the dense cost
    to the target (reached at `reach_fraction` of the search budget), lowest importance per unit of
    cost saved first, never below the landing window, and near the target only deaths after which
    an exact landing stays reachable (`landing.Landing`);
 4. lands when the cost is within budget: the masks freeze and the search is over; at the end of
    the search budget `land_now` forces the landing by the same ranking.
The masks are explicit state, so the landing is exact and never over budget. Deaths decided among
equal scores are counted (`tie_decided_fraction` of the run's report).

Several budgets, largest first, are landed on in turn by one search: the path is planned to the
last, each landing window is met exactly, and `next_budget` moves on once the caller has taken
what it wanted of a landing (the trainer forks a fine-tuning there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from coronet.pruning.budget import Budget
from coronet.pruning.cost import CostModel
from coronet.pruning.landing import Landing
from coronet.pruning.latents import LatentVectors
from coronet.pruning.proximal import soft_threshold_

PAPER_SHRINK = 0.3  # the L1 step that reproduces the paper's proximal pressure (off by default)


@dataclass(frozen=True)
class ControllerConfig:
    min_channels: int = 4  # no group goes below this many channels (DHP)
    reach_fraction: float = 0.75  # plan to reach the target at this share of the search steps
    shrink: float = 0.0  # the L1 step of the costliest channel per step, as a share of the lr
    importance_decay: float = 0.9  # moving average of the squared mask gradients
    warmup_steps: int = 10  # steps of importance before the first death


@dataclass
class ControllerStatus:
    step: int
    cost: int
    ratio: float  # cost / dense cost
    landed: bool
    forced: bool  # landed by ranking at the end of the search budget
    widths: dict[str, int]
    deaths: int  # channels removed so far
    tied_deaths: int  # of those, removed while another candidate had the same score


class BudgetController:
    """Owns the importance of every channel, the L1 step and the deaths until the budget is met."""

    def __init__(self, latents: LatentVectors, cost_model: CostModel, budget: Budget | list[Budget],
                 search_steps: int, lr: float, config: ControllerConfig | None = None) -> None:
        self.latents = latents
        self.cost_model = cost_model
        self.budgets = list(budget) if isinstance(budget, list) else [budget]
        if any(a.limit <= b.limit for a, b in zip(self.budgets, self.budgets[1:], strict=False)):
            raise ValueError("several budgets are landed on largest first")
        self.stage = 0  # the budget landed on now
        self.search_steps = max(int(search_steps), 1)
        self.config = config or ControllerConfig()
        self.step_count = 0
        self.landed = False
        self.forced = False
        self.deaths = 0
        self.tied_deaths = 0
        groups = [latents.groups[n] for n in cost_model.group_names]
        self._prunable = np.array([g.name in latents.vectors for g in groups])
        self._floor = np.array([min(self.config.min_channels, g.size) if g.name in latents.vectors
                                else g.size for g in groups], dtype=np.int64)
        self.landing = Landing(cost_model, self.budget, self._prunable, self._floor)
        self.importance = {n: torch.zeros(latents.groups[n].size) for n in latents.vectors}
        self._cost = self._current_cost()
        self.landed = self._cost <= self.budget.limit  # a target of 1.0 (or the dense model already fits)

    @property
    def budget(self) -> Budget:
        return self.budgets[self.stage]

    @property
    def has_next(self) -> bool:
        return self.stage + 1 < len(self.budgets)

    def next_budget(self) -> None:
        """Go on from a landing towards the next, smaller budget."""
        self.stage += 1
        self.landing = Landing(self.cost_model, self.budget, self._prunable, self._floor)
        self.landed, self.forced = self._cost <= self.budget.limit, False

    # ----------------------------------------------------------------- the four steps
    @torch.no_grad()
    def step(self, lr: float) -> ControllerStatus:
        gradients = self._mask_gradients()
        if self.landed:
            return self.status()
        self.step_count += 1
        self._update_importance(gradients)
        self._shrink(lr)
        if self.step_count >= self.config.warmup_steps:
            self._remove_until(self._path_goal(), force=False)
        if self._cost <= self.budget.limit:
            self.landed = True
        elif self.step_count >= self.search_steps:
            self.land_now()
        return self.status()

    def _update_importance(self, gradients: dict[str, torch.Tensor]) -> None:
        """1. Each channel's importance: the moving average of its squared mask gradient, Fisher
        pruning's estimate of the loss its removal adds; divided by the cost saved it is loss per
        MAC (its square root would favour cutting the costly trunk)."""
        decay = self.config.importance_decay
        importance = [self.importance[n] for n in gradients]
        torch._foreach_mul_(importance, decay)
        torch._foreach_addcmul_(importance, list(gradients.values()), list(gradients.values()), 1.0 - decay)

    def _shrink(self, lr: float) -> None:
        """2. The paper's proximal L1 step when `shrink` > 0, each group's amount proportional to what
        one of its channels costs and none for a group at its floor; then dead entries are set back
        to exactly zero (Adam's momentum moves them)."""
        names = list(self.latents.vectors)
        zs = [self.latents.vectors[n] for n in names]
        if self.config.shrink > 0:
            w = self.cost_model.vector(self.latents.widths())
            savings = self.landing.savings(w).astype(np.float64)
            largest = max(float(savings[self.landing.prunable].max()), 1.0)
            at = [self.cost_model.index[n] for n in names]
            floor = self.landing.floor_width
            soft_threshold_(zs, [self.config.shrink * lr * savings[j] / largest if w[j] > floor[j] else 0.0
                                 for j in at])
        torch._foreach_mul_(zs, [self.latents.mask(n) for n in names])

    def _path_goal(self) -> float:
        """3. Where the deaths aim this step: the planned straight path from the dense cost to the
        target, but never below the middle of the landing window, so the last deaths keep room on
        both sides of it."""
        window = self.budget.limit - self.budget.lower
        return max(self.budget.lower + window // 2, self.planned_cost(self.step_count))

    @torch.no_grad()
    def land_now(self) -> ControllerStatus:
        """4. Meet the budget now by ranking every alive channel (at the end of the search budget)."""
        if not self.landed:
            self._remove_until(self.budget.limit, force=True)
            self.landed = True
            self.forced = True
        return self.status()

    def planned_ratio(self, step: int) -> float:
        """The straight path from the dense cost to the last budget."""
        progress = min(1.0, step / (self.config.reach_fraction * self.search_steps))
        return 1.0 - (1.0 - self.budgets[-1].ratio) * progress

    def planned_cost(self, step: int) -> float:
        return self.planned_ratio(step) * self.budget.dense

    # ----------------------------------------------------------------- the deaths
    def _remove_until(self, goal: float, force: bool) -> None:
        """Remove channels, lowest importance per unit of cost saved first, until the cost is at most
        `goal` (and within budget). No death takes the cost below the landing window, and near the
        target no death may make an exact landing unreachable. With `force`, when no ranked death
        is possible, the landing finishes by the largest death that fits the window, and when none
        fits, by the cheapest (the result stays under budget)."""
        queues = {name: self._weakest_first(name) for name in self.latents.vectors}
        at, floor = self.cost_model.index, self.landing.floor_width
        w = self.cost_model.vector(self.latents.widths())
        cost = self.landing.cost(w)
        dead: dict[str, list[int]] = {name: [] for name in queues}
        while cost > self.budget.limit and cost > goal:
            queues = {n: q for n, q in queues.items() if q and w[at[n]] > floor[at[n]]}
            if not queues:
                break
            savings = self.landing.savings(w)
            group, tied = self._weakest_per_unit(queues, savings, w, cost)
            if group is None and force:
                group, tied = self._forced_death(queues, savings, w, cost), True
            if group is None:
                break
            dead[group].append(queues[group].pop(0))
            self.deaths += 1
            self.tied_deaths += int(tied)
            w[at[group]] -= 1
            cost -= int(savings[at[group]])
        for name, indices in dead.items():
            if indices:
                mask = self.latents.alive_on_host(name).clone()
                mask[indices] = False
                self.latents.set_alive(name, mask)  # also zeroes the dead latents
        self._cost = self._current_cost()

    def _weakest_first(self, name: str) -> list[int]:
        """The alive channels of a group, lowest importance first (ties in channel order)."""
        idx = torch.nonzero(self.latents.alive_on_host(name), as_tuple=False).flatten()
        return idx[self.importance[name][idx].argsort(stable=True)].tolist()

    def _weakest_per_unit(self, queues: dict[str, list[int]], savings: np.ndarray, w: np.ndarray,
                          cost: int) -> tuple[str | None, bool]:
        """The group whose weakest channel has the lowest importance per unit saved and may die now,
        and whether another candidate had the same score. Among equal scores (none measured yet)
        the group widest relative to its dense size goes first: that keeps small steps available
        for an exact landing."""
        at = self.cost_model.index
        ranked = []
        for name, queue in queues.items():
            saving = int(savings[at[name]])
            if cost - saving < self.budget.lower:
                continue  # would fall below the landing window
            per_unit = [float(self.importance[name][c]) / max(saving, 1) for c in queue[:2]]
            share = w[at[name]] / self.latents.groups[name].size
            ranked.append((per_unit[0], -share, name, len(per_unit) > 1 and per_unit[1] == per_unit[0]))
        ranked.sort(key=lambda r: r[:3])
        for i, (value, _, name, tied_inside) in enumerate(ranked):
            if not self.landing.keeps_landing_reachable(w, at[name], cost, savings):
                continue
            others = [r[0] for j, r in enumerate(ranked) if j != i]
            return name, tied_inside or (bool(others) and min(others) == value)
        return None, False

    def _forced_death(self, queues: dict[str, list[int]], savings: np.ndarray, w: np.ndarray,
                      cost: int) -> str:
        j = self.landing.largest_fitting_death(savings, w, cost)
        if j is None:  # no death fits the window: the cheapest, to stay under budget
            j = min((self.cost_model.index[n] for n in queues), key=lambda k: savings[k])
        return self.cost_model.group_names[j]

    def _mask_gradients(self) -> dict[str, torch.Tensor]:
        """This step's mask gradients on the CPU, averaged over processes when distributed (every
        process must make the same decisions)."""
        gradients = self.latents.take_probe_gradients()
        if not gradients:
            return {}
        names = list(gradients)
        flat = torch.cat([gradients[n].flatten() for n in names])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(flat)
            flat /= torch.distributed.get_world_size()
        flat = flat.float().cpu()  # one copy to the host for every group
        return dict(zip(names, flat.split([gradients[n].numel() for n in names]), strict=True))

    def _current_cost(self) -> int:
        return self.cost_model.cost(self.budget.metric, self.latents.widths())

    def status(self) -> ControllerStatus:
        return ControllerStatus(self.step_count, self._cost, self._cost / self.budget.dense, self.landed,
                                self.forced, self.latents.widths(), self.deaths, self.tied_deaths)

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "stage": self.stage, "landed": self.landed,
                "forced": self.forced,
                "deaths": self.deaths, "tied_deaths": self.tied_deaths,
                "importance": {n: v.clone() for n, v in self.importance.items()},
                "budget": asdict(self.budget), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.stage = int(state.get("stage", 0))  # saved before several budgets: the one budget
        self.landing = Landing(self.cost_model, self.budget, self._prunable, self._floor)
        self.landed = bool(state["landed"])
        self.forced = bool(state["forced"])
        self.deaths = int(state["deaths"])
        self.tied_deaths = int(state["tied_deaths"])
        for name, value in state["importance"].items():
            self.importance[name].copy_(value)
        self._cost = self._current_cost()
