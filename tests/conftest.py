"""Shared fixtures: tiny versions of every architecture, small enough for CI on two CPU cores."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmarks' own tests
import toy_generator  # noqa: E402

toy_generator.register()
torch.set_num_threads(min(2, os.cpu_count() or 1))
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci")

# (registered name, constructor kwargs, input size): every architecture, tiny
TINY = [
    ("resnet_9blocks", {"ngf": 4}, (32, 32)),
    ("resnet_6blocks", {"ngf": 4, "norm": "batch", "use_dropout": True}, (24, 24)),
    ("unet_256", {"ngf": 2}, (256, 256)),
    ("unet_128", {"ngf": 4, "norm": "instance"}, (128, 128)),
    (toy_generator.NAME, {"width": 6}, (16, 16)),
    ("mobile_resnet_9blocks", {"ngf": 4}, (32, 32)),
]
TINY_IDS = [f"{name}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for name, kw, _ in TINY]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def tiny_params():
    return pytest.mark.parametrize(("name", "kwargs", "size"), TINY, ids=TINY_IDS)
