"""Hypernetwork-generated convolutions: the three layers, masking, dense initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import tiny_params
from coronet.models import ConvSpec, LatentGroup, get_generator, load_reference_state_dict
from coronet.models.layout import RGB_OUT
from coronet.pruning import HyperConv, LatentVectors, hypernetize, materialize
from coronet.pruning.baselines import magnitude_prune
from coronet.pruning.importance import filter_l1_norms


def _layer(conv: nn.Module, m: int = 3) -> tuple[HyperConv, LatentVectors]:
    transposed = isinstance(conv, nn.ConvTranspose2d)
    c_in = conv.weight.shape[0] if transposed else conv.weight.shape[1]
    c_out = conv.weight.shape[1] if transposed else conv.weight.shape[0]
    latents = LatentVectors([LatentGroup("a", c_in), LatentGroup("b", c_out)])
    layer = HyperConv(conv, ConvSpec("conv", "b", ("a",)), latents, embedding_dim=m)
    with torch.no_grad():  # non-zero biases, so every term of the formula is exercised
        for p in layer.hyper_parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return layer, latents


def test_generated_kernel_follows_the_three_layers_entry_by_entry():
    layer, latents = _layer(nn.Conv2d(3, 4, 3))
    z_in, z_out = latents.vector("a"), latents.vector("b")
    kernel = layer.kernel()
    for i in range(4):
        for j in range(3):
            latent = z_out[i] * z_in[j] + layer.b0[i, j]  # latent layer
            embedding = latent * layer.w1[i, j] + layer.b1[i, j]  # embedding layer (m)
            explicit = embedding @ layer.w2[i, j] + layer.b2[i, j]  # explicit layer (k^2)
            torch.testing.assert_close(kernel[i, j], explicit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("conv", [
    nn.Conv2d(5, 4, 3, stride=2, padding=1),
    nn.Conv2d(5, 4, 3, padding=2, dilation=2, padding_mode="reflect"),
    nn.ConvTranspose2d(5, 4, 3, stride=2, padding=1, output_padding=1),
    nn.ConvTranspose2d(5, 4, 4, stride=2, padding=1, bias=False),
], ids=["conv-s2", "conv-reflect-dilated", "convT-op1", "convT-k4"])
def test_hyper_layer_is_the_original_conv_with_the_generated_weight(conv):
    layer, _ = _layer(conv)
    weight, bias = layer.masked_weight_and_bias()
    assert weight.shape == conv.weight.shape
    with torch.no_grad():
        conv.weight.copy_(weight)
        if conv.bias is not None:
            conv.bias.copy_(bias)
    x = torch.randn(2, 5, 9, 9)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-5, atol=1e-6)


def test_dead_channels_are_zero_in_weight_and_bias():
    layer, latents = _layer(nn.Conv2d(5, 4, 3))
    latents.set_alive("a", torch.tensor([True, False, True, True, False]))
    latents.set_alive("b", torch.tensor([False, True, True, True]))
    weight, bias = layer.masked_weight_and_bias()
    assert torch.all(weight[0] == 0) and torch.all(weight[:, [1, 4]] == 0)
    assert bias[0] == 0 and torch.all(weight[1:][:, [0, 2, 3]] != 0)
    assert torch.all(latents.vector("a")[[1, 4]] == 0)  # a dead latent is exactly zero


@tiny_params()
def test_dense_state_dict_is_reproduced_before_any_step(tmp_path, name, kwargs, size):
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
    hyper = hypernetize(dense, init="dense")
    x = torch.randn(2, 3, *size)
    for mode in ("eval", "train"):
        if mode == "train" and kwargs.get("use_dropout", name.startswith("unet")):
            continue  # dropout draws differ between two forward passes
        trained.train(mode == "train")
        hyper.train(mode == "train")
        torch.testing.assert_close(hyper(x), trained(x), rtol=0, atol=1e-5)


def test_dense_init_scales_each_kernel_by_its_latent_product():
    conv = nn.Conv2d(3, 4, 3)
    latents = LatentVectors([LatentGroup("a", 3), LatentGroup("b", 4)], init="ones")
    layer = HyperConv(conv, ConvSpec("conv", "b", ("a",)), latents)
    layer.copy_dense_weight(conv)
    with torch.no_grad():
        latents.vector("a").copy_(torch.tensor([0.5, 0.0, 2.0]))
        latents.vector("b").copy_(torch.tensor([1.0, 3.0, -1.0, 0.25]))
    scale = torch.outer(latents.vector("b"), latents.vector("a")).detach()
    expected = conv.weight.detach() * scale[:, :, None, None]
    torch.testing.assert_close(layer.masked_weight_and_bias()[0].detach(), expected,
                               rtol=1e-5, atol=1e-6)


def test_hypernetwork_size_follows_the_formula():
    # c_in * c_out * (1 + 2m + k^2 m + k^2) per layer (method.md §2)
    layer, _ = _layer(nn.Conv2d(6, 5, 3), m=8)
    assert sum(p.numel() for p in layer.hyper_parameters()) == 6 * 5 * (1 + 16 + 72 + 9)


def test_flat_latent_start_gives_every_kernel_the_hyperfan_in_scale():
    # "ones": no z_out * z_in pattern, so each generated kernel entry has Var = 1 / (c_in k^2),
    # a plain fresh conv's scale, in every row and column alike
    torch.manual_seed(0)
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=8), latent_init="ones")
    assert all(bool((z == 1).all()) for z in hyper.latents.vectors.values())
    for module, layer in hyper.hyper_layers().items():
        kernel = layer.kernel().detach()
        if kernel.numel() < 2000:
            continue
        expected = (layer.c_in * kernel.shape[-1]) ** -0.5
        assert abs(float(kernel.std()) / expected - 1) < 0.1, module
        per_column = kernel.transpose(0, 1).reshape(layer.c_in, -1).std(dim=1) / expected
        assert float(per_column.max() / per_column.min()) < 2.5, module
    normal = hypernetize(get_generator("resnet_9blocks", ngf=8))
    z = torch.cat([v.detach() for v in normal.latents.vectors.values()])
    assert 0.8 < float(z.std()) < 1.2 and not bool((z == 1).all())  # DHP's N(0, 1) by default
    with pytest.raises(ValueError, match="latent_init='ones'"):
        hypernetize(get_generator("resnet_9blocks", ngf=8), init="dense", latent_init="normal")


@pytest.mark.parametrize("scale_free", [False, True])
def test_scale_free_output_makes_the_image_ignore_a_common_shrink_of_the_latents(scale_free):
    # Every generated conv but the last is followed by InstanceNorm, which cancels a common scale of
    # the latents (the hypernetwork biases start at zero, so the kernels are linear in z_out z_in;
    # only the norm's eps makes this inexact). The last conv feeds tanh: with the raw gate, halving
    # every latent, as the proximal step does over a search, fades the image; with the scale-free
    # gate the image stays.
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=4), scale_free_output=scale_free).eval()
    layers = hyper.hyper_layers()
    assert [m for m, layer in layers.items() if layer.scale_free_input] == (
        [m for m, layer in layers.items() if layer.spec.out_group == RGB_OUT] if scale_free else [])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = hyper(x)
        for z in hyper.latents.vectors.values():
            z.mul_(0.5)
        after = hyper(x)
    contrast = float(after.std() / before.std())
    if scale_free:
        assert abs(contrast - 1) < 0.01 and float((after - before).abs().max()) < 0.03
    else:
        assert contrast < 0.8


def test_scale_free_output_exports_exactly_and_keeps_the_dense_start():
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=4), scale_free_output=True).eval()
    with torch.no_grad():
        for p in hyper.hypernetwork_parameters():
            p.add_(torch.randn_like(p) * 0.01)
    for group in hyper.latents.prunable_names():  # the last conv's RMS is over alive inputs only
        alive = torch.ones(hyper.latents.groups[group].size, dtype=torch.bool)
        alive[1::3] = False
        hyper.latents.set_alive(group, alive)
    compact = materialize(hyper).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert float((compact(x) - hyper(x)).abs().max()) <= 1e-5
    dense = get_generator("resnet_9blocks", ngf=4).eval()
    start = hypernetize(dense, init="dense", scale_free_output=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(start(x), dense(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("scale_free", [False, True])
def test_norms_start_is_the_dense_model_and_its_first_cut_is_magnitude_pruning(scale_free):
    # latent_init="norms" puts each channel's filter L1 norm (over its group's mean) into z and
    # divides it back out of the kernels: the start computes the dense model, and the channels a
    # common L1 shrink zeroes first are the ones magnitude pruning drops
    torch.manual_seed(0)
    dense = get_generator("resnet_9blocks", ngf=8).eval()
    with torch.no_grad():  # a "trained" model: some filters grown, others shrunk
        for m in dense.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.mul_(torch.empty(1, m.weight.shape[1], 1, 1).uniform_(0.2, 3.0))
            elif isinstance(m, nn.Conv2d):
                m.weight.mul_(torch.empty(m.weight.shape[0], 1, 1, 1).uniform_(0.2, 3.0))
    hyper = hypernetize(dense, init="dense", latent_init="norms", scale_free_output=scale_free).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(hyper(x), dense(x), rtol=0, atol=1e-5)
    norms = filter_l1_norms(dense)
    widths = {}
    for group, norm in norms.items():
        z = hyper.latents.vector(group).detach()
        torch.testing.assert_close(z, (norm / norm.mean()).clamp_min(0.01))
        assert float(z.std()) > 0.1  # not the flat start
        threshold = torch.quantile(z, 0.4)  # the shrink that reaches 40% of the group first
        hyper.latents.set_alive(group, z > threshold)
        widths[group] = int((z > threshold).sum())
    pruned, magnitude = materialize(hyper).eval(), magnitude_prune(dense, widths).eval()
    with torch.no_grad():
        difference = float((pruned(x) - magnitude(x)).abs().max())
    if scale_free:  # the image conv's gate is z_in over its RMS among the *alive* inputs: cutting
        assert difference > 1e-3  # the weak ones raises that RMS, so the image's gain changes
    else:
        assert difference <= 1e-5
    with pytest.raises(ValueError, match="latent_init='norms' reads a trained dense"):
        hypernetize(get_generator("resnet_9blocks", ngf=8), latent_init="norms")
