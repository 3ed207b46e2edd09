"""Kernel generation: the hand-written backwards against autograd, DHP's three layers collapsed into
the lean form, and one training step executed the fast way (one autograd function, kernels
generated once per step) against the plain way (autograd through the formula, kernels generated
again in every forward pass)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from coronet.gan.trainer import Trainer
from coronet.pruning import HyperGenerator, hyperconv
from coronet.pruning.generation import dhp_kernel, lean_kernel
from test_training import tiny


def plain_dhp(z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2):
    """DHP's three layers in plain autograd operations (the independent reference)."""
    latent = z_out[:, None] * z_in[None, :] + b0
    embedding = latent[..., None] * w1 + b1
    kernel = torch.einsum("oim,oimk->oik", embedding, w2) + b2
    return kernel * (mask_out[:, None] * mask_in[None, :])[..., None]


def plain_lean(z_out, z_in, mask_out, mask_in, a, c):
    kernel = (z_out[:, None] * z_in[None, :])[..., None] * a + c
    return kernel * (mask_out[:, None] * mask_in[None, :])[..., None]


PLAIN = {dhp_kernel: plain_dhp, lean_kernel: plain_lean}


def _inputs(form, o: int = 5, i: int = 4, m: int = 3, k2: int = 9, dtype=torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    own = [(o, i), (o, i, m), (o, i, m), (o, i, m, k2), (o, i, k2)] if form is dhp_kernel else \
        [(o, i, k2), (o, i, k2)]
    xs = [torch.randn(s, generator=g, dtype=dtype) for s in [(o,), (i,), (o,), (i,)] + own]
    xs[2] = (torch.rand(o, generator=g, dtype=dtype) > 0.3).to(dtype) * xs[2]  # masks: some zero
    xs = [x.requires_grad_() for x in xs]
    return xs


FORMS = [dhp_kernel, lean_kernel]
IDS = ["dhp", "lean"]


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_the_backward_is_the_gradient_of_the_forward(form):
    assert torch.autograd.gradcheck(form, _inputs(form), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_values_and_gradients_equal_plain_autograd(form):
    xs = _inputs(form, o=7, i=6, m=8, k2=9, dtype=torch.float32)
    ys = [x.detach().clone().requires_grad_() for x in xs]
    fast, plain = form(*xs), PLAIN[form](*ys)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    weight = torch.randn_like(fast)
    (fast * weight).sum().backward()
    (plain * weight).sum().backward()
    for x, y in zip(xs, ys, strict=True):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("form", FORMS, ids=IDS)
def test_only_the_gradients_asked_for_are_computed(form):
    xs = _inputs(form)
    for x in xs[:4] + xs[5:]:
        x.requires_grad_(False)  # only the first parameter trains
    form(*xs).sum().backward()
    assert xs[4].grad is not None and all(x.grad is None for x in xs[:4] + xs[5:])


def test_dhps_three_layers_collapse_into_the_lean_form():
    """DHP's hypernetwork is linear in z_out z_in: multiplied out, it is A z_out z_in + C with
    A = W1 @ W2 and C = B0 A + B1 @ W2 + B2, the same kernel (and so the same function class)."""
    z_out, z_in, mask_out, mask_in, b0, w1, b1, w2, b2 = _inputs(dhp_kernel, o=6, i=5, m=8, k2=9)
    with torch.no_grad():
        a = torch.einsum("oim,oimk->oik", w1, w2)
        c = b0[..., None] * a + torch.einsum("oim,oimk->oik", b1, w2) + b2
        for latents in [(z_out, z_in), (torch.randn(6, dtype=z_out.dtype), torch.zeros(5, dtype=z_in.dtype))]:
            dhp = dhp_kernel(*latents, mask_out, mask_in, b0, w1, b1, w2, b2)
            lean = lean_kernel(*latents, mask_out, mask_in, a, c)
            torch.testing.assert_close(lean, dhp, rtol=1e-10, atol=1e-12)


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


@pytest.mark.parametrize(("model", "form"), [("pix2pix", "lean"), ("cyclegan", "lean"), ("pix2pix", "dhp"),
                                           ("cyclegan", "dhp")])
def test_a_training_step_computes_what_the_plain_execution_computes(tmp_path, model, form, monkeypatch):
    cfg = tiny(tmp_path, model=model, search=5).updated({"model.hypernet": form})
    fast, plain = Trainer(cfg, tmp_path / "fast"), Trainer(cfg, tmp_path / "plain")
    batch = next(plain.batches())
    grads = {"fast": _record_gradients(fast), "plain": _record_gradients(plain)}
    calls = []
    for function in PLAIN:
        monkeypatch.setattr(hyperconv, function.__name__,
                            lambda *a, f=function: calls.append(1) or f(*a))
    fast.train_step(batch)
    layers = sum(len(g.hyper_layers()) for g in fast.generators.values())
    assert len(calls) == layers  # once per layer, however many passes the objective runs
    for function, plain_function in PLAIN.items():
        monkeypatch.setattr(hyperconv, function.__name__, plain_function)
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
        # the importance is a squared gradient: the gradients' 1e-4 relative becomes 2e-4
        torch.testing.assert_close(importance, plain.controllers[name].importance, rtol=2e-4, atol=1e-12)
