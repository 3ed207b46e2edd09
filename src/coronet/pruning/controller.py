"""Drive the latent vectors to the user's budget and stop inside [1 - tolerance, 1] x target.

After every generator optimizer step, `BudgetController.step(lr)`:
 1. soft-thresholds the alive latents of every group above its minimum width by gamma * lr;
 2. lets channels whose |z| fell to the threshold die, lowest |z| per unit of cost saved first
    (ties, such as the many latents the soft threshold sets to exactly 0, go to the group that is
    widest relative to its dense size, so they thin evenly), but not faster than a straight
    planned path from the dense cost to the target (reached at `reach_fraction` of the search
    budget) and never below the landing window's lower edge: a channel that would run ahead stays
    alive and competes on (its latent can grow back);
 3. lands when the cost is within budget: the masks freeze and the search is over;
 4. otherwise adapts gamma: up while the cost lags the plan, down while the plan holds back
    candidates; at the end of the search budget it forces the landing by the same ranking over
    all alive channels.
The rate limit matters most from a dense start, where every latent begins at 1 and would reach
the threshold in the same step.
Ranking instead by |z| before the step's soft threshold, which keeps the order the threshold erases,
was tried (commit fc88b40): the widths then leave uniform's, driven mostly by the MACs a channel
saves, and the quality stays the same (docs/results.md), so the simpler tie rule stays.
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


@dataclass(frozen=True)
class ControllerConfig:
    threshold: float = 5e-3  # |z| at or below this lets a channel die (DHP)
    min_channels: int = 4  # no group goes below this many channels (DHP)
    reach_fraction: float = 0.75  # plan to reach the target at this share of the search steps
    check_every: int = 10  # steps between adaptations of gamma
    gamma: float | None = None  # initial L1 strength; None: reach the target on time if unopposed
    gamma_factor: float = 1.2  # multiplicative adaptation per check


@dataclass
class ControllerStatus:
    step: int
    cost: int
    ratio: float  # cost / dense cost
    gamma: float
    landed: bool
    forced: bool  # landed by ranking at the end of the search budget
    widths: dict[str, int]


class BudgetController:
    """Owns gamma, the L1 step and the deaths of channels until the budget is met."""

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
        self._held_back = False
        names = cost_model.group_names
        self._prunable = np.array([n in latents.vectors for n in names])
        self._floor_width = np.array([min(self.config.min_channels, latents.groups[n].size)
                                      if n in latents.vectors else latents.groups[n].size
                                      for n in names], dtype=np.int64)
        self.gamma = self.config.gamma if self.config.gamma is not None else self._initial_gamma(lr)
        self._cost = self._current_cost()
        if self._cost <= budget.limit:  # a target of 1.0 (or the dense model already fits)
            self.landed = True

    def _initial_gamma(self, lr: float) -> float:
        zs = torch.cat([z.detach().abs().flatten() for z in self.latents.vectors.values()])
        scale = float(zs.median()) if zs.numel() else 1.0
        return scale / (lr * self.config.reach_fraction * self.search_steps)


    def planned_ratio(self, step: int) -> float:
        progress = min(1.0, step / (self.config.reach_fraction * self.search_steps))
        return 1.0 - (1.0 - self.budget.ratio) * progress

    @torch.no_grad()
    def step(self, lr: float) -> ControllerStatus:
        if self.landed:
            return self.status()
        self.step_count += 1
        widths = self.latents.widths()
        for name, z in self.latents.vectors.items():
            alive = self.latents.alive(name)
            if widths[name] > self.config.min_channels:
                soft_threshold_(z, self.gamma * lr, where=alive)
        weak = {name: self.latents.alive(name) & (z.abs() <= self.config.threshold)
                for name, z in self.latents.vectors.items()}
        window = self.budget.limit - self.budget.lower
        floor = max(self.budget.lower, self.planned_cost(self.step_count) - window)
        self._held_back |= self._kill(weak, floor=floor, force=False)
        if self._cost <= self.budget.limit:
            self.landed = True
        elif self.step_count >= self.search_steps:
            self.land_now()
        elif self.step_count % self.config.check_every == 0:
            if self._held_back:
                self.gamma /= self.config.gamma_factor
            elif self._cost > self.planned_cost(self.step_count):
                # the further behind the plan (in units of 2% of the way), the harder the push
                lag = (self._cost - self.planned_cost(self.step_count)) / (
                    self.budget.dense - self.budget.limit)
                self.gamma *= self.config.gamma_factor ** min(4.0, max(1.0, lag / 0.02))
            self._held_back = False
        return self.status()

    def planned_cost(self, step: int) -> float:
        return self.planned_ratio(step) * self.budget.dense

    @torch.no_grad()
    def land_now(self) -> ControllerStatus:
        """Meet the budget now by ranking every alive channel (used at the end of the search)."""
        if not self.landed:
            alive = {name: self.latents.alive(name).clone() for name in self.latents.vectors}
            self._kill(alive, floor=self.budget.lower, force=True)
            self.landed = True
            self.forced = True
        return self.status()

    def _kill(self, candidates: dict[str, torch.Tensor], floor: float, force: bool) -> bool:
        """Let candidates die, lowest |z| per unit cost first, until within budget.

        No death may take the cost below `floor`, and near the target no death may make an exact
        landing unreachable (the lookahead of `_can_land`). With `force`, if no ranked death is
        possible, the landing finishes by the lookahead's own greedy, and if even that cannot hit
        the window, by the cheapest deaths (the result stays under budget). Returns whether a
        candidate was held back by the floor or the lookahead.
        """
        # the ranking reads every group's mask and |z|: one copy to the host for all of them, since
        # each read of a GPU tensor would wait for the GPU (about 70 waits a step on ResNet-9)
        masks = _on_host(candidates)
        magnitudes = _on_host({name: self.latents.vectors[name].detach().abs() for name in candidates})
        queues: dict[str, list[int]] = {}
        for name, mask in masks.items():
            idx = torch.nonzero(mask, as_tuple=False).flatten()
            if idx.numel():
                order = magnitudes[name][idx].argsort(stable=True)
                queues[name] = idx[order].tolist()
        cm, metric, at = self.cost_model, self.budget.metric, self.cost_model.index
        w = cm.vector(self.latents.widths())
        cost = cm.cost_vector(metric, w)
        dead: dict[str, list[int]] = {name: [] for name in queues}
        held_back = False
        while cost > self.budget.limit:
            for name in [n for n, q in queues.items() if not q or w[at[n]] <= self._floor_width[at[n]]]:
                queues.pop(name)
            if not queues:
                break
            savings = cm.savings_vector(metric, w)
            choice, blocked = self._ranked_death(queues, magnitudes, savings, w, cost, floor)
            held_back |= blocked
            if choice is None and force:
                j = self._fitting_death(savings, w, cost)
                if j is None:  # no death fits the window: the cheapest, to stay under budget
                    allowed = [at[n] for n in queues]
                    j = min(allowed, key=lambda k: savings[k])
                choice = cm.group_names[j]
            if choice is None:
                break
            dead[choice].append(queues[choice].pop(0))
            w[at[choice]] -= 1
            cost -= int(savings[at[choice]])
        for name, indices in dead.items():
            if indices:
                mask = self.latents.alive(name).clone()
                mask[indices] = False
                self.latents.set_alive(name, mask)
        # entries already dead stay exactly zero (Adam's momentum must not revive them)
        for name, z in self.latents.vectors.items():
            z.masked_fill_(~self.latents.alive(name), 0.0)
        self._cost = self._current_cost()
        return held_back

    def _ranked_death(self, queues: dict[str, list[int]], magnitudes: dict[str, torch.Tensor],
                      savings: np.ndarray, w: np.ndarray, cost: int,
                      floor: float) -> tuple[str | None, bool]:
        """The group whose weakest candidate has the lowest |z| per unit saved and may die now."""
        at = self.cost_model.index
        blocked = False
        scored = []
        for name, queue in queues.items():
            saving = int(savings[at[name]])
            if cost - saving < floor:
                blocked = True  # would run ahead of the plan or below the landing window
                continue
            z = float(magnitudes[name][queue[0]])
            # equal evidence (mostly |z| = 0 after the soft threshold): thin the relatively widest
            # group, not the first name in alphabetical order
            share = w[at[name]] / self.latents.groups[name].size
            scored.append((z / max(saving, 1), -share, name))
        zone = 4 * int(savings[self._prunable].max())
        for *_, name in sorted(scored):
            after = cost - int(savings[at[name]])
            if after > self.budget.limit and after - self.budget.limit <= zone:
                w[at[name]] -= 1
                landable = self._can_land(w, after)
                w[at[name]] += 1
                if not landable:
                    blocked = True
                    continue
            return name, blocked
        return None, blocked

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
        return ControllerStatus(self.step_count, self._cost, self._cost / self.budget.dense,
                                self.gamma, self.landed, self.forced, self.latents.widths())

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "landed": self.landed, "forced": self.forced,
                "gamma": self.gamma, "held_back": self._held_back, "budget": asdict(self.budget),
                "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        self.landed = bool(state["landed"])
        self.forced = bool(state["forced"])
        self.gamma = float(state["gamma"])
        self._held_back = bool(state["held_back"])
        self._cost = self._current_cost()


def _on_host(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same 1-d tensors on the CPU, copied in one transfer (one wait for the device)."""
    if not tensors:
        return {}
    names = list(tensors)
    flat = torch.cat([tensors[n] for n in names]).cpu()
    return dict(zip(names, flat.split([tensors[n].numel() for n in names]), strict=True))
