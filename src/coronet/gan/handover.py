"""The end of a search: each hyper-generator lands, becomes a plain compact generator, and is
checked to compute what the masked hyper-model computed."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from coronet.gan.summary import Handover
from coronet.pruning import BudgetController, CostModel, HyperGenerator, materialize, uniform_widths


@torch.no_grad()
def hand_over(hyper: HyperGenerator, controller: BudgetController, cost: CostModel, x: torch.Tensor,
              search_steps: int, min_channels: int) -> tuple[nn.Module, Handover]:
    """The compact generator of `hyper` and the record of its search. A search that ended before it
    landed (no search steps, or fewer than it needed) lands now by the ranking: the exported model is
    never over the budget. `x`: sample inputs the two models are compared on."""
    status = controller.land_now()
    compact = materialize(hyper).to(x.device)
    hyper.eval()
    compact.eval()
    diff = float((compact(x) - hyper.forward(x)).abs().max())
    compact.train()
    widths = compact.widths
    metric = controller.budget.metric
    record = Handover(widths=widths, export_max_abs_diff=diff, macs=cost.macs(widths),
                      params=cost.params(widths), achieved_ratio=status.ratio, forced_landing=status.forced,
                      search_steps=search_steps,
                      search=search_diagnostics(cost, widths, status.tied_deaths, status.deaths,
                                                min_channels, metric))
    return compact, record


def search_diagnostics(cost: CostModel, widths: dict[str, int], tied_deaths: int, deaths: int,
                       min_channels: int, metric: str = "macs") -> dict[str, Any]:
    """Whether a search chose its widths: the share of its channel deaths decided among equal scores
    (`tie_decided_fraction`), the kept share of every prunable group (`keep_ratios`), and how far
    those are from uniform thinning to the same cost (`uniform_distance`: mean absolute difference
    of the keep ratios; 0 means the search found the uniform network)."""
    groups = [g for g in cost.layout.groups if g.prunable]
    keep = {g.name: widths[g.name] / g.size for g in groups}
    uniform = uniform_widths(cost, cost.cost(metric, widths), min_channels, metric)
    distance = float(np.mean([abs(keep[g.name] - uniform[g.name] / g.size) for g in groups]))
    return {"tie_decided_fraction": tied_deaths / deaths if deaths else 0.0, "deaths": deaths,
            "keep_ratios": keep, "uniform_keep_ratios": {g.name: uniform[g.name] / g.size for g in groups},
            "uniform_distance": distance}
