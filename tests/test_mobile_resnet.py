"""The mobile ResNet generator (`mobile_resnet_9blocks`, depthwise-separable residual blocks): its
layout and counts against an independent definition of the reference network and the published
figures, its checkpoints, depthwise convolutions in the pruning core, and a compress that lands."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from coronet.cli.main import main
from coronet.errors import CheckpointError
from coronet.eval import count_macs, count_params
from coronet.gan.trainer import Trainer
from coronet.models import ConvSpec, LatentGroup, get_generator, load_reference_state_dict
from coronet.models.layout import ChannelLayout
from coronet.pruning import HyperConv, LatentVectors, hypernetize, materialize
from test_training import tiny

# torchprofile counts of GAN Compression's mobile ResNet-9 at 256x256, as OMGD publishes its
# students (1.408G / 0.137M for ngf 16)
PUBLISHED = {16: (1_407_713_280, 137_347), 12: (857_604_096, 80_547), 8: (439_615_488, 38_723),
             24: (2_904_293_376, 295_875)}


class _RefSeparable(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(c_in, c_in, 3, padding=0, groups=c_in, bias=True),
                                  nn.InstanceNorm2d(c_in), nn.Conv2d(c_in, c_out, 1, bias=True))

    def forward(self, x):
        return self.conv(x)


class _RefBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), _RefSeparable(dim, dim), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.Dropout(0.0), nn.ReflectionPad2d(1), _RefSeparable(dim, dim), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class _Reference(nn.Module):
    """The network as GAN Compression's MobileResnetGenerator builds it (instance norm), written
    out here independently of coronet's model code."""

    def __init__(self, ngf: int) -> None:
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        layers += [_RefBlock(ngf * 4) for _ in range(9)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def test_keys_and_shapes_are_the_references():
    ours = {k: v.shape for k, v in get_generator("mobile_resnet_9blocks", ngf=4).state_dict().items()}
    reference = {k: v.shape for k, v in _Reference(4).state_dict().items()}
    assert ours == reference
    assert ours["model.10.conv_block.1.conv.0.weight"] == (16, 1, 3, 3)  # depthwise, trunk channels
    assert ours["model.10.conv_block.6.conv.2.weight"] == (16, 16, 1, 1)  # pointwise into the trunk


def test_a_reference_checkpoint_loads_and_computes_what_the_reference_computes(tmp_path):
    reference = _Reference(4).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_(0, 0.2)
    torch.save(reference.state_dict(), tmp_path / "latest_net_G.pth")
    ours = get_generator("mobile_resnet_9blocks", ngf=4).eval()
    load_reference_state_dict(ours, tmp_path / "latest_net_G.pth")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_a_plain_resnet_checkpoint_is_refused_with_the_option_to_check(tmp_path):
    torch.save(get_generator("resnet_9blocks", ngf=4).state_dict(), tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="does not fit mobile_resnet_9blocks.*--netG"):
        load_reference_state_dict(get_generator("mobile_resnet_9blocks", ngf=4), tmp_path / "plain.pth")


@pytest.mark.parametrize("ngf", sorted(PUBLISHED))
def test_counts_equal_torchprofile_on_the_reference_and_the_published_figures(ngf):
    ours = get_generator("mobile_resnet_9blocks", ngf=ngf)
    macs, params = PUBLISHED[ngf]
    assert count_macs(ours, (256, 256)) == count_macs(_Reference(ngf), (256, 256)) == macs
    assert count_params(ours) == count_params(_Reference(ngf)) == params
    cost = hypernetize(ours).cost_model((256, 256))  # the search's own arithmetic
    assert (cost.macs(ours.widths), cost.params(ours.widths)) == (macs, params)


def test_profile_prints_the_published_counts(capsys):
    assert main(["profile", "--netG", "mobile_resnet_9blocks", "--ngf", "16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["macs"], report["params"]) == PUBLISHED[16]


def _depthwise(channels: int = 5) -> tuple[nn.Conv2d, HyperConv, LatentVectors]:
    conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
    latents = LatentVectors([LatentGroup("a", channels)], init="ones")
    return conv, HyperConv(conv, ConvSpec("conv", "a", (), depthwise=True), latents), latents


def test_a_depthwise_layer_generates_one_filter_per_channel_and_masks_dead_ones():
    conv, layer, latents = _depthwise()
    layer.copy_dense_weight(conv)
    x = torch.randn(2, 5, 8, 8)
    torch.testing.assert_close(layer(x), conv(x), rtol=0, atol=1e-6)
    with torch.no_grad():
        latents.vector("a").copy_(torch.tensor([2.0, 1.0, 0.5, 1.0, 1.0]))
    weight, _ = layer.masked_weight_and_bias()
    assert weight.shape == (5, 1, 3, 3)
    torch.testing.assert_close(weight[0], 2 * conv.weight[0], rtol=1e-5, atol=1e-6)  # follows z_out alone
    latents.set_alive("a", torch.tensor([True, False, True, True, False]))
    weight, bias = layer.masked_weight_and_bias()
    assert torch.all(weight[[1, 4]] == 0) and torch.all(bias[[1, 4]] == 0)
    assert torch.all(weight[[0, 2, 3]] != 0)
    y = layer(x)
    assert torch.all(y[:, [1, 4]] == 0)
    y.sum().backward()  # the latent of a live channel receives the task gradient
    assert latents.vector("a").grad[[0, 2, 3]].abs().min() > 0


def test_grouped_convolutions_must_be_declared_depthwise():
    conv = nn.Conv2d(4, 4, 3, groups=4)
    latents = LatentVectors([LatentGroup("a", 4)])
    with pytest.raises(ValueError, match="declared with LayoutBuilder.depthwise"):
        HyperConv(conv, ConvSpec("conv", "a", ("a",)), latents)
    with pytest.raises(ValueError, match="declared depthwise but has groups=1"):
        HyperConv(nn.Conv2d(4, 4, 3), ConvSpec("conv", "a", (), depthwise=True), latents)
    with pytest.raises(ValueError, match="depthwise convolution has no input groups"):
        ChannelLayout((LatentGroup("a", 4),), (ConvSpec("conv", "a", ("a",), depthwise=True),))


def test_masked_hyper_model_and_compact_twin_agree_in_training_mode_too():
    torch.manual_seed(3)
    hyper = hypernetize(get_generator("mobile_resnet_9blocks", ngf=4))
    for name in list(hyper.latents.vectors):
        alive = torch.rand(hyper.latents.groups[name].size) > 0.5
        alive[0] = True
        hyper.latents.set_alive(name, alive)
    compact = materialize(hyper)
    assert compact.state_dict()["model.12.conv_block.6.conv.0.weight"].shape == (
        hyper.widths()["block2"], 1, 3, 3)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # instance norms use the batch's own statistics in both modes
        torch.testing.assert_close(compact.train()(x), hyper.train()(x), rtol=0, atol=1e-5)


def test_a_quickstart_size_compress_lands_on_the_target_and_exports_exactly(tmp_path):
    cfg = tiny(tmp_path).updated({
        "data.load_size": 72, "data.crop_size": 64, "data.batch_size": 4, "model.ngf": 16,
        "model.netG": "mobile_resnet_9blocks", "prune.ratio": 0.25, "prune.min_channels": 4,
        "train.search": 60, "train.finetune": 2, "train.decay": 1,
        "train.checkpoint_every": 0, "train.sample_every": 0})
    summary = Trainer(cfg, tmp_path / "run", compress=True).run()
    run = summary.generators["G_A"]
    compact = run.generator
    macs = count_macs(compact, (64, 64))
    assert 0.98 * 0.25 <= macs / run.dense_macs <= 0.25
    assert run.handover.export_max_abs_diff <= 1e-5
    assert compact.spec.name == "mobile_resnet_9blocks"
    depthwise = [m for m in compact.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 18 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
