"""Hypernetwork-generated convolutions: each form's formula, masking, dense initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import tiny_params
from coronet.models import ConvSpec, LatentGroup, get_generator, load_reference_state_dict
from coronet.pruning import HyperConv, LatentVectors, hypernetize

FORMS = ("lean", "dhp")


def _layer(conv: nn.Module, m: int = 3, form: str = "dhp") -> tuple[HyperConv, LatentVectors]:
    transposed = isinstance(conv, nn.ConvTranspose2d)
    c_in = conv.weight.shape[0] if transposed else conv.weight.shape[1]
    c_out = conv.weight.shape[1] if transposed else conv.weight.shape[0]
    latents = LatentVectors([LatentGroup("a", c_in), LatentGroup("b", c_out)])
    layer = HyperConv(conv, ConvSpec("conv", "b", ("a",)), latents, form=form, embedding_dim=m)
    with torch.no_grad():  # non-zero biases, so every term of the formula is exercised
        for p in layer.hyper_parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return layer, latents


def _kernel(layer: HyperConv) -> torch.Tensor:
    """The generated kernel as (c_out, c_in, k^2), every channel alive (a Conv2d's layout)."""
    weight, _ = layer.masked_weight_and_bias()
    return weight.reshape(layer.c_out, layer.c_in, -1)


def test_generated_kernel_follows_the_three_layers_entry_by_entry():
    layer, latents = _layer(nn.Conv2d(3, 4, 3))
    z_in, z_out = latents.vector("a"), latents.vector("b")
    kernel = _kernel(layer)
    for i in range(4):
        for j in range(3):
            latent = z_out[i] * z_in[j] + layer.b0[i, j]  # latent layer
            embedding = latent * layer.w1[i, j] + layer.b1[i, j]  # embedding layer (m)
            explicit = embedding @ layer.w2[i, j] + layer.b2[i, j]  # explicit layer (k^2)
            torch.testing.assert_close(kernel[i, j], explicit, rtol=1e-5, atol=1e-6)


def test_lean_kernel_is_the_latent_product_times_a_plus_c_entry_by_entry():
    layer, latents = _layer(nn.Conv2d(3, 4, 3), form="lean")
    z_in, z_out = latents.vector("a"), latents.vector("b")
    kernel = _kernel(layer)
    for i in range(4):
        for j in range(3):
            torch.testing.assert_close(kernel[i, j], z_out[i] * z_in[j] * layer.a[i, j] + layer.c[i, j])


@pytest.mark.parametrize("form", FORMS)
def test_from_scratch_every_form_draws_kernels_of_the_same_spread(form):
    """DHP's hyperfan-in: Var(K) = 1/(c_in k^2) at z ~ N(0, 1), whichever form generates K."""
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 48, 3)
    latents = LatentVectors([LatentGroup("a", 64), LatentGroup("b", 48)])
    layer = HyperConv(conv, ConvSpec("conv", "b", ("a",)), latents, form=form)
    variance = float(_kernel(layer).detach().var())
    assert 0.8 < variance * 64 * 9 < 1.25

@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("conv", [
    nn.Conv2d(5, 4, 3, stride=2, padding=1),
    nn.Conv2d(5, 4, 3, padding=2, dilation=2, padding_mode="reflect"),
    nn.ConvTranspose2d(5, 4, 3, stride=2, padding=1, output_padding=1),
    nn.ConvTranspose2d(5, 4, 4, stride=2, padding=1, bias=False),
], ids=["conv-s2", "conv-reflect-dilated", "convT-op1", "convT-k4"])
def test_hyper_layer_is_the_original_conv_with_the_generated_weight(conv, form):
    layer, _ = _layer(conv, form=form)
    weight, bias = layer.masked_weight_and_bias()
    assert weight.shape == conv.weight.shape
    with torch.no_grad():
        conv.weight.copy_(weight)
        if conv.bias is not None:
            conv.bias.copy_(bias)
    x = torch.randn(2, 5, 9, 9)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_dead_channels_are_zero_in_weight_and_bias(form):
    layer, latents = _layer(nn.Conv2d(5, 4, 3), form=form)
    latents.set_alive("a", torch.tensor([True, False, True, True, False]))
    latents.set_alive("b", torch.tensor([False, True, True, True]))
    weight, bias = layer.masked_weight_and_bias()
    assert torch.all(weight[0] == 0) and torch.all(weight[:, [1, 4]] == 0)
    assert bias[0] == 0 and torch.all(weight[1:][:, [0, 2, 3]] != 0)
    assert torch.all(latents.vector("a")[[1, 4]] == 0)  # a dead latent is exactly zero


@pytest.mark.parametrize("form", FORMS)
@tiny_params()
def test_dense_state_dict_is_reproduced_before_any_step(tmp_path, name, kwargs, size, form):
    trained = get_generator(name, **kwargs)
    with torch.no_grad():  # a "trained" model: weights unlike the initialisation, BN stats set
        for p in trained.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        for n, b in trained.named_buffers():
            if n.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif n.endswith("running_mean"):
                b.normal_(0, 0.1)
    torch.save(trained.state_dict(), tmp_path / "latest_net_G.pth")
    dense = get_generator(name, **kwargs)
    load_reference_state_dict(dense, tmp_path / "latest_net_G.pth")
    hyper = hypernetize(dense, form=form, init="dense")
    x = torch.randn(2, 3, *size)
    for mode in ("eval", "train"):
        if mode == "train" and kwargs.get("use_dropout", name.startswith("unet")):
            continue  # dropout draws differ between two forward passes
        trained.train(mode == "train")
        hyper.train(mode == "train")
        torch.testing.assert_close(hyper(x), trained(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("form", FORMS)
def test_dense_init_scales_each_kernel_by_its_latent_product(form):
    conv = nn.Conv2d(3, 4, 3)
    latents = LatentVectors([LatentGroup("a", 3), LatentGroup("b", 4)], init="ones")
    layer = HyperConv(conv, ConvSpec("conv", "b", ("a",)), latents, form=form)
    layer.copy_dense_weight(conv)
    with torch.no_grad():
        latents.vector("a").copy_(torch.tensor([0.5, 0.0, 2.0]))
        latents.vector("b").copy_(torch.tensor([1.0, 3.0, -1.0, 0.25]))
    scale = torch.outer(latents.vector("b"), latents.vector("a")).detach()
    expected = conv.weight.detach() * scale[:, :, None, None]
    torch.testing.assert_close(layer.masked_weight_and_bias()[0].detach(), expected,
                               rtol=1e-5, atol=1e-6)




def test_latents_start_at_dhps_draw_from_scratch_and_at_one_from_a_dense_model():
    torch.manual_seed(0)
    normal = hypernetize(get_generator("resnet_9blocks", ngf=8))
    z = torch.cat([v.detach() for v in normal.latents.vectors.values()])
    assert 0.8 < float(z.std()) < 1.2 and abs(float(z.mean())) < 0.2  # N(0, 1)
    dense = hypernetize(get_generator("resnet_9blocks", ngf=8), init="dense")
    assert all(bool((v == 1).all()) for v in dense.latents.vectors.values())


def test_the_lean_form_holds_two_values_per_kernel_entry():
    """The search's trainable state: the lean form holds A and C (2 values per kernel entry of the
    generator it stands for); DHP's holds 1 + 2m + k^2 m + k^2 per entry pair."""
    dense = get_generator("resnet_9blocks", ngf=8)
    hyper = hypernetize(dense, form="lean")
    kernels = sum(m.weight.numel() for m in dense.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert sum(p.numel() for p in hyper.hypernetwork_parameters()) == 2 * kernels
    generated = sum(layer.masked_weight_and_bias()[0].numel() for layer in hyper.hyper_layers().values())
    assert generated == kernels
