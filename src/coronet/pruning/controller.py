"""Drive the search to the user's budget and stop inside [1 - tolerance, 1] x target.

After every generator optimizer step, `BudgetController.step(lr)`:
 1. updates each channel's importance: a moving average of the squared gradient of the loss with
    respect to the channel's mask (`LatentVectors.mask`), the first-order estimate of what removing
    the channel would cost the task;
 2. takes the paper's proximal L1 step on the alive latents when `shrink` > 0 (off by default: it
    made no measured difference, docs/results.md), weighted by what each channel costs (a trunk
    channel of a ResNet costs more MACs than a channel of one block) and bounded to `shrink` times the
    learning rate, a fraction of the latents' own Adam step;
 3. removes channels to follow a straight planned path from the dense cost to the target (reached at
    `reach_fraction` of the search budget): lowest importance per unit of cost saved first, never
    below the landing window, and near the target only deaths that keep an exact landing reachable;
 4. lands when the cost is within budget: the masks freeze and the search is over. At the end of the
    search budget it forces the landing by the same ranking.
The task ranks the channels, not the L1 step: a ranking by |z| after the soft threshold left most
channels tied at exactly zero and thinned every group alike (docs/results.md). Deaths decided among
equal scores are counted (`tie_decided_fraction`).
DHP stops at the first check below target + tolerance and lands 1-2 points *over* the target; the
explicit masks and the ranking make the landing exact and never over budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from coronet.pruning.budget import Budget
from coronet.pruning.cost import CostModel
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

    def __init__(self, latents: LatentVectors, cost_model: CostModel, budget: Budget,
                 search_steps: int, lr: float, config: ControllerConfig | None = None) -> None:
        self.latents = latents
        self.cost_model = cost_model
        self.budget = budget
        self.search_steps = max(int(search_steps), 1)
        self.config = config or ControllerConfig()
        self.step_count = 0
        self.landed = False
        self.forced = False
        self.deaths = 0
        self.tied_deaths = 0
        names = cost_model.group_names
        self._prunable = np.array([n in latents.vectors for n in names])
        self._floor_width = np.array([min(self.config.min_channels, latents.groups[n].size)
                                      if n in latents.vectors else latents.groups[n].size
                                      for n in names], dtype=np.int64)
        self.importance = {n: torch.zeros(latents.groups[n].size) for n in latents.vectors}
        self._cost = self._current_cost()
        if self._cost <= budget.limit:  # a target of 1.0 (or the dense model already fits)
            self.landed = True

    def planned_ratio(self, step: int) -> float:
        progress = min(1.0, step / (self.config.reach_fraction * self.search_steps))
        return 1.0 - (1.0 - self.budget.ratio) * progress

    def planned_cost(self, step: int) -> float:
        return self.planned_ratio(step) * self.budget.dense

    @torch.no_grad()
    def step(self, lr: float) -> ControllerStatus:
        gradients = self._mask_gradients()
        if self.landed:
            return self.status()
        self.step_count += 1
        decay = self.config.importance_decay
        importance = [self.importance[n] for n in gradients]
        torch._foreach_mul_(importance, decay)
        torch._foreach_addcmul_(importance, list(gradients.values()), list(gradients.values()), 1.0 - decay)
        self._shrink(lr)
        if self.step_count >= self.config.warmup_steps:
            window = self.budget.limit - self.budget.lower
            goal = max(self.budget.lower + window // 2, self.planned_cost(self.step_count))
            self._kill(goal, force=False)
        if self._cost <= self.budget.limit:
            self.landed = True
        elif self.step_count >= self.search_steps:
            self.land_now()
        return self.status()

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

    def _shrink(self, lr: float) -> None:
        """The paper's proximal L1 step when `shrink` > 0, each group's amount proportional to what
        one of its channels costs and none for a group at its floor; then dead entries are set back
        to exactly zero (Adam's momentum moves them)."""
        names = list(self.latents.vectors)
        zs = [self.latents.vectors[n] for n in names]
        if self.config.shrink > 0:
            w = self.cost_model.vector(self.latents.widths())
            savings = self.cost_model.savings_vector(self.budget.metric, w).astype(np.float64)
            largest = max(float(savings[self._prunable].max()), 1.0)
            at = [self.cost_model.index[n] for n in names]
            soft_threshold_(zs, [self.config.shrink * lr * savings[j] / largest
                                 if w[j] > self._floor_width[j] else 0.0 for j in at])
        torch._foreach_mul_(zs, [self.latents.mask(n) for n in names])

    @torch.no_grad()
    def land_now(self) -> ControllerStatus:
        """Meet the budget now by ranking every alive channel (used at the end of the search)."""
        if not self.landed:
            self._kill(self.budget.limit, force=True)
            self.landed = True
            self.forced = True
        return self.status()

    def score(self, name: str) -> torch.Tensor:
        """Each channel's importance in group `name`: the moving average of its squared mask gradient,
        Fisher pruning's estimate of the loss a removal adds, so that divided by the cost saved it is
        loss per MAC (its square root would favour cutting the costly trunk; docs/results.md)."""
        return self.importance[name]

    def _kill(self, goal: float, force: bool) -> None:
        """Remove channels, lowest importance per unit of cost saved first, until the cost is at most
        `goal` (and within budget). No death takes the cost below the landing window, and near the
        target no death may make an exact landing unreachable (the lookahead of `_can_land`). With
        `force`, if no ranked death is possible, the landing finishes by the lookahead's own greedy,
        and if even that cannot hit the window, by the cheapest deaths (the result stays under
        budget)."""
        scores, queues = {}, {}
        for name in self.latents.vectors:
            idx = torch.nonzero(self.latents.alive_on_host(name), as_tuple=False).flatten()
            if idx.numel():
                scores[name] = self.score(name)
                queues[name] = idx[scores[name][idx].argsort(stable=True)].tolist()
        cm, metric, at = self.cost_model, self.budget.metric, self.cost_model.index
        w = cm.vector(self.latents.widths())
        cost = cm.cost_vector(metric, w)
        dead: dict[str, list[int]] = {name: [] for name in queues}
        while cost > self.budget.limit and cost > goal:
            for name in [n for n, q in queues.items() if not q or w[at[n]] <= self._floor_width[at[n]]]:
                queues.pop(name)
            if not queues:
                break
            savings = cm.savings_vector(metric, w)
            choice, tied = self._ranked_death(queues, scores, savings, w, cost)
            if choice is None and force:
                j = self._fitting_death(savings, w, cost)
                if j is None:  # no death fits the window: the cheapest, to stay under budget
                    allowed = [at[n] for n in queues]
                    j = min(allowed, key=lambda k: savings[k])
                choice, tied = cm.group_names[j], True
            if choice is None:
                break
            dead[choice].append(queues[choice].pop(0))
            self.deaths += 1
            self.tied_deaths += int(tied)
            w[at[choice]] -= 1
            cost -= int(savings[at[choice]])
        for name, indices in dead.items():
            if indices:
                mask = self.latents.alive_on_host(name).clone()
                mask[indices] = False
                self.latents.set_alive(name, mask)  # also zeroes the dead latents
        self._cost = self._current_cost()

    def _ranked_death(self, queues: dict[str, list[int]], scores: dict[str, torch.Tensor],
                      savings: np.ndarray, w: np.ndarray, cost: int) -> tuple[str | None, bool]:
        """The group whose weakest channel has the lowest importance per unit saved and may die now,
        and whether another candidate had the same score."""
        at = self.cost_model.index
        ranked = []
        for name, queue in queues.items():
            saving = int(savings[at[name]])
            if cost - saving < self.budget.lower:
                continue  # would fall below the landing window
            per_unit = [float(scores[name][c]) / max(saving, 1) for c in queue[:2]]
            # among equal scores (none measured yet), thin the group widest relative to its dense size:
            # that keeps small steps available for an exact landing
            share = w[at[name]] / self.latents.groups[name].size
            ranked.append((per_unit[0], -share, name, len(per_unit) > 1 and per_unit[1] == per_unit[0]))
        ranked.sort(key=lambda r: r[:3])
        zone = 4 * int(savings[self._prunable].max())
        for i, (value, _, name, tied_inside) in enumerate(ranked):
            after = cost - int(savings[at[name]])
            if after > self.budget.limit and after - self.budget.limit <= zone:
                w[at[name]] -= 1
                landable = self._can_land(w, after)
                w[at[name]] += 1
                if not landable:
                    continue
            others = [r[0] for j, r in enumerate(ranked) if j != i]
            return name, tied_inside or (bool(others) and min(others) == value)
        return None, False

    def _can_land(self, w: np.ndarray, cost: int) -> bool:
        """Whether deaths among the alive channels can still end inside the window."""
        w = w.copy()
        while cost > self.budget.limit:
            savings = self.cost_model.savings_vector(self.budget.metric, w)
            j = self._fitting_death(savings, w, cost)
            if j is None:
                return False
            w[j] -= 1
            cost -= int(savings[j])
        return True

    def _fitting_death(self, savings: np.ndarray, w: np.ndarray, cost: int) -> int | None:
        """Index of the largest saving that keeps the cost inside or above the window."""
        allowed = self._prunable & (w > self._floor_width) & (cost - savings >= self.budget.lower)
        if not allowed.any():
            return None
        return int(np.where(allowed, savings, -1).argmax())

    def _current_cost(self) -> int:
        return self.cost_model.cost(self.budget.metric, self.latents.widths())

    def status(self) -> ControllerStatus:
        return ControllerStatus(self.step_count, self._cost, self._cost / self.budget.dense, self.landed,
                                self.forced, self.latents.widths(), self.deaths, self.tied_deaths)

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "landed": self.landed, "forced": self.forced,
                "deaths": self.deaths, "tied_deaths": self.tied_deaths,
                "importance": {n: v.clone() for n, v in self.importance.items()},
                "budget": asdict(self.budget), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.landed = bool(state["landed"])
        self.forced = bool(state["forced"])
        self.deaths = int(state["deaths"])
        self.tied_deaths = int(state["tied_deaths"])
        for name, value in state["importance"].items():
            self.importance[name].copy_(value)
        self._cost = self._current_cost()
