"""The planted-architecture benchmark, tiny: the search must find widths the task is known to need."""

from __future__ import annotations

import argparse

import torch

import planted
from coronet.pruning import ControllerConfig


def test_the_search_finds_the_planted_widths_and_recovers_the_oracles_advantage():
    torch.manual_seed(0)
    args = argparse.Namespace(ngf=8, blocks=6, size=32, quiet_scale=0.05, min_channels=2, train_images=32,
                              test_images=16, noise=0.05, steps=150, search_steps=75, lr=2e-4, batch=4,
                              hyper_lr_scale=0.1, shrink=ControllerConfig.shrink, importance_decay=0.9,
                              hypernet="lean")
    result = planted.run_seed(args, seed=0)
    rows = result["rows"]
    assert result["quiet_blocks"] == [1, 2, 4]
    # the task resolves: the right widths beat uniform ones of the same MACs by far
    assert rows["oracle"]["error"] <= 0.7 * rows["uniform"]["error"]
    assert rows["oracle"]["macs"] == rows["coronet"]["macs"] or (
        0.98 * rows["oracle"]["macs"] <= rows["coronet"]["macs"] <= rows["oracle"]["macs"])
    # the search recovers at least 60% of that advantage and ranks the groups as planted
    gap = rows["uniform"]["error"] - rows["oracle"]["error"]
    assert rows["coronet"]["error"] <= rows["uniform"]["error"] - 0.6 * gap
    assert result["spearman"] >= 0.7
    assert all(result["found_keep"][f"block{i}"] <= 0.25 for i in (1, 2, 4))
