"""Kernel generation: the hand-written backward against autograd, and one training step executed
the fast way (one autograd function, kernels generated once per step) against the plain way
(autograd through the three layers, kernels generated again in every forward pass)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from coronet.gan.trainer import Trainer
from coronet.pruning import HyperGenerator, hyperconv
from coronet.pruning.generation import generate_kernel
from test_training import tiny


def plain_kernel(z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2):
    """DHP's three layers in plain autograd operations (the independent reference)."""
    latent = z_out[:, None] * z_in[None, :] + b0
    embedding = latent[..., None] * w1 + b1
    kernel = torch.einsum("oim,oimk->oik", embedding, w2) + b2
    return kernel * (mask_out[:, None] * mask_in[None, :])[..., None]


def _inputs(o: int = 5, i: int = 4, m: int = 3, k2: int = 9, dtype=torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shapes = [(o,), (i,), (o,), (i,), (o, i), (o, i, m), (o, i, m), (o, i, m, k2), (o, i, k2)]
    xs = [torch.randn(s, generator=g, dtype=dtype) for s in shapes]
    xs[2] = (torch.rand(o, generator=g, dtype=dtype) > 0.3).to(dtype) * xs[2]  # masks: some zero
    return [x.requires_grad_() for x in xs]


def test_the_backward_is_the_gradient_of_the_forward():
    assert torch.autograd.gradcheck(generate_kernel, _inputs(), eps=1e-6, atol=1e-7)


def test_values_and_gradients_equal_plain_autograd():
    xs = _inputs(o=7, i=6, m=8, k2=9, dtype=torch.float32)
    ys = [x.detach().clone().requires_grad_() for x in xs]
    fast, plain = generate_kernel(*xs), plain_kernel(*ys)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    weight = torch.randn_like(fast)
    (fast * weight).sum().backward()
    (plain * weight).sum().backward()
    for x, y in zip(xs, ys, strict=True):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-4, atol=1e-5)


def test_only_the_gradients_asked_for_are_computed():
    xs = _inputs()
    for x in xs[:4] + xs[5:]:
        x.requires_grad_(False)  # only B0 trains
    generate_kernel(*xs).sum().backward()
    assert xs[4].grad is not None and all(x.grad is None for x in xs[:4] + xs[5:])


@contextmanager
def _generate_each_pass(self):
    yield


def _kernels(trainer: Trainer, name: str) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {m: layer.masked_weight_and_bias()[0]
                for m, layer in trainer.generators[name].hyper_layers().items()}


def _record_gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Every gradient the generator and discriminator optimisers step on, by parameter name."""
    modules = {**trainer.generators, **trainer.discriminators}
    names = {id(p): f"{m}.{key}" for m, module in modules.items() for key, p in module.named_parameters()}
    seen: dict[str, torch.Tensor] = {}

    def record(opt, args, kwargs):
        for group in opt.param_groups:
            for p in group["params"]:
                seen[names[id(p)]] = p.grad.clone() if p.grad is not None else torch.zeros_like(p)

    trainer.opt_G.register_step_pre_hook(record)
    trainer.opt_D.register_step_pre_hook(record)
    return seen


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_a_training_step_computes_what_the_plain_execution_computes(tmp_path, model, monkeypatch):
    cfg = tiny(tmp_path, model=model, search_steps=5)
    fast, plain = Trainer(cfg, tmp_path / "fast"), Trainer(cfg, tmp_path / "plain")
    batch = next(plain.batches())
    grads = {"fast": _record_gradients(fast), "plain": _record_gradients(plain)}
    calls = []
    monkeypatch.setattr(hyperconv, "generate_kernel", lambda *a: calls.append(1) or generate_kernel(*a))
    fast.train_step(batch)
    layers = sum(len(g.hyper_layers()) for g in fast.generators.values())
    assert len(calls) == layers  # once per layer, however many passes the objective runs
    monkeypatch.setattr(hyperconv, "generate_kernel", plain_kernel)
    monkeypatch.setattr(HyperGenerator, "reusing_kernels", _generate_each_pass)
    plain.train_step(batch)
    plain_kernels = {name: _kernels(plain, name) for name in plain.names}
    monkeypatch.undo()

    # float32; the two executions sum in different orders. Gradients agree within 1e-4 relative or
    # 1e-6 of the largest gradient: a conv bias in front of an instance norm has a true gradient of
    # zero, and each execution gives it its own float noise
    scale = max(float(g.abs().max()) for g in grads["plain"].values())
    assert grads["fast"].keys() == grads["plain"].keys() and scale > 0
    for key, g in grads["plain"].items():
        torch.testing.assert_close(grads["fast"][key], g, rtol=1e-4, atol=1e-6 * scale, msg=key)
    noise = {key for key, g in grads["plain"].items() if float(g.abs().max()) < 1e-6 * scale}
    assert all(key.endswith(".bias") for key in noise)
    for name in fast.names:
        f, p = fast.generators[name].state_dict(), plain.generators[name].state_dict()
        for key, value in p.items():
            # Adam's first step moves an entry by lr g / (|g| + eps), the sign of noise for noise
            atol = 2 * cfg.train.lr if f"{name}.{key}" in noise else 1e-7
            torch.testing.assert_close(f[key], value, rtol=1e-5, atol=atol, msg=key)
        for module, kernel in _kernels(fast, name).items():
            torch.testing.assert_close(kernel, plain_kernels[name][module], rtol=1e-5, atol=1e-6)
        importance = fast.controllers[name].importance
        assert sum(float(v.abs().sum()) for v in importance.values()) > 0
        torch.testing.assert_close(importance, plain.controllers[name].importance, rtol=1e-4, atol=1e-12)
