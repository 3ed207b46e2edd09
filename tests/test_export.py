"""What you search is what you get: for random alive masks on every architecture, the compact
generator equals the masked hyper-model, and the analytic cost equals torchprofile's count."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from conftest import TINY, TINY_IDS
from coronet.errors import CheckpointError
from coronet.eval import count_macs, count_params
from coronet.models import get_generator, load_generator, save_generator
from coronet.pruning import HyperConv, hypernetize, materialize

_HYPER = {}


def _hyper(name, kwargs):
    """One hyper-model per architecture (building them is the slow part), masks reset per use."""
    key = (name, tuple(sorted(kwargs.items())))
    if key not in _HYPER:
        torch.manual_seed(1)
        hyper = hypernetize(get_generator(name, **kwargs)).eval()
        with torch.no_grad():  # trained-looking hypernetwork biases, so dead != zero-latent
            for p in hyper.hypernetwork_parameters():
                p.add_(torch.randn_like(p) * 0.01)
        _HYPER[key] = hyper
    hyper = _HYPER[key]
    for group in list(hyper.latents.vectors):
        hyper.latents.set_alive(group, torch.ones_like(hyper.latents.alive(group)))
    return hyper


def _draw_masks(data, hyper):
    for group in list(hyper.latents.vectors):
        size = hyper.latents.groups[group].size
        bits = data.draw(st.lists(st.booleans(), min_size=size, max_size=size), label=group)
        if not any(bits):
            bits[data.draw(st.integers(0, size - 1))] = True
        hyper.latents.set_alive(group, torch.tensor(bits))


@pytest.mark.parametrize(("name", "kwargs", "size"), TINY, ids=TINY_IDS)
@settings(max_examples=10)
@given(data=st.data())
def test_random_masks_export_exactly(name, kwargs, size, data):
    hyper = _hyper(name, kwargs)
    _draw_masks(data, hyper)
    compact = materialize(hyper).eval()
    assert not any(isinstance(m, HyperConv) for m in compact.modules())
    widths = hyper.widths()
    assert compact.widths == widths
    cost = hyper.cost_model(size)
    assert cost.macs(widths) == count_macs(compact, size)
    assert cost.params(widths) == count_params(compact)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        diff = (compact(x) - hyper(x)).abs().max().item()
    assert diff <= 1e-5


@pytest.mark.parametrize(("name", "kwargs", "size"), TINY[:3], ids=TINY_IDS[:3])
def test_dead_channels_contribute_exactly_zero(name, kwargs, size):
    hyper = _hyper(name, kwargs).train()
    for group in list(hyper.latents.vectors):
        alive = torch.ones(hyper.latents.groups[group].size, dtype=torch.bool)
        alive[::2] = False
        hyper.latents.set_alive(group, alive)
    x = torch.randn(2, 3, *size)
    torch.manual_seed(5)
    before = hyper(x)
    before.square().sum().backward()
    dead_grads = []
    with torch.no_grad():  # scramble every parameter that belongs to a dead channel
        for layer in hyper.hyper_layers().values():
            dead_out = ~hyper.latents.alive(layer.spec.out_group)
            _, alive_in = hyper.latents.gate(layer.spec.in_groups)
            dead_pair = dead_out[:, None] | (alive_in == 0)[None, :]
            for p in layer.hyper_parameters():
                dead_grads.append(p.grad[dead_pair])
                p[dead_pair] += torch.randn_like(p[dead_pair])
            if layer.bias is not None:
                dead_grads.append(layer.bias.grad[dead_out])
                layer.bias[dead_out] += 1.0
        torch.manual_seed(5)
        after = hyper(x)
    hyper.zero_grad()
    hyper.eval()
    assert torch.equal(before, after)
    assert all(torch.all(g == 0) for g in dead_grads)


def test_compact_generator_round_trips_through_safetensors(tmp_path):
    hyper = _hyper("resnet_9blocks", {"ngf": 4})
    hyper.latents.set_alive("trunk", torch.tensor([True, False] * 8))
    compact = materialize(hyper).eval()
    weights = save_generator(compact, tmp_path / "G_A")
    assert weights.name == "G_A.safetensors" and (tmp_path / "G_A.json").is_file()
    loaded = load_generator(tmp_path / "G_A.json")
    assert type(loaded) is type(compact) and loaded.widths["trunk"] == 8
    assert isinstance(loaded.model[19], nn.ConvTranspose2d)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(loaded(x), compact(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_broken_compact_files_are_named(tmp_path):
    compact = materialize(_hyper("resnet_9blocks", {"ngf": 4}))
    save_generator(compact, tmp_path / "G")
    (tmp_path / "G.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="G.safetensors"):
        load_generator(tmp_path / "G")
    (tmp_path / "G.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_generator(tmp_path / "G")
    with pytest.raises(CheckpointError, match="missing"):
        load_generator(tmp_path / "other.safetensors")
