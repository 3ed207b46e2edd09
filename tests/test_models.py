"""The reference networks: exact sizes, reference key layout, loading reference checkpoints."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_params
from coronet.errors import CheckpointError
from coronet.eval import count_macs, count_params
from coronet.models import (
    ChannelLayout,
    ConvSpec,
    LatentGroup,
    get_discriminator,
    get_generator,
    list_generators,
    load_reference_state_dict,
)
from coronet.pruning import CostModel


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        # docs/method.md, torchprofile >= 0.0.3 at 1x3x256x256
        ("resnet_9blocks", 11_378_179, 56_799_264_768),
        ("unet_256", 54_413_955, 18_143_334_400),
    ],
)
def test_full_size_generators_match_published_counts(name, params, macs):
    g = get_generator(name, ngf=64)
    assert count_params(g) == params
    assert count_macs(g, (256, 256)) == macs
    cost = CostModel(g, (256, 256))
    assert cost.params(cost.dense_widths) == params
    assert cost.macs(cost.dense_widths) == macs


@pytest.mark.parametrize(("input_nc", "norm", "params"), [(3, "instance", 2_764_737),
                                                          (6, "batch", 2_768_705)])
def test_patchgan_sizes_match_reference(input_nc, norm, params):
    # CycleGAN's D_A (2.765 M) and pix2pix's conditional D (2.769 M) in the reference logs
    d = get_discriminator("basic", input_nc=input_nc, ndf=64, norm=norm)
    assert count_params(d) == params
    assert d(torch.zeros(1, input_nc, 256, 256)).shape == (1, 1, 30, 30)  # 70x70 patches


def test_pixelgan_is_the_references_one_by_one_discriminator():
    # 3*64 + 64 (first conv, biased) + 64*128 (no bias before batch norm) + 2*128 + 128*1 = 8,832
    d = get_discriminator("pixel", input_nc=3, ndf=64, norm="batch")
    assert count_params(d) == 8_832
    assert set(d.state_dict()) >= {"net.0.weight", "net.0.bias", "net.2.weight", "net.3.running_mean",
                                   "net.5.weight"}
    assert d(torch.zeros(1, 3, 40, 24)).shape == (1, 1, 40, 24)  # a verdict per pixel


def test_state_dict_keys_follow_the_reference_layout():
    resnet = get_generator("resnet_9blocks", ngf=8).state_dict()
    for key in ("model.1.weight", "model.1.bias", "model.4.weight", "model.7.weight",
                "model.10.conv_block.1.weight", "model.10.conv_block.5.bias",
                "model.18.conv_block.5.weight", "model.19.weight", "model.22.weight",
                "model.26.weight", "model.26.bias"):
        assert key in resnet
    assert resnet["model.19.weight"].shape == (32, 16, 3, 3)  # ConvTranspose: (in, out, k, k)
    unet = get_generator("unet_256", ngf=8).state_dict()
    innermost = "model.model.1" + ".model.3" * 6
    for key in ("model.model.0.weight", "model.model.3.weight", "model.model.3.bias",
                "model.model.1.model.1.weight", "model.model.1.model.2.running_mean",
                f"{innermost}.model.1.weight", f"{innermost}.model.3.weight"):
        assert key in unet, key
    assert "model.model.0.bias" not in unet  # BatchNorm U-Net convs carry no bias


def test_unet_dropout_sits_in_the_three_levels_above_the_innermost():
    g = get_generator("unet_256", ngf=4)
    dropouts = [n for n, m in g.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert sorted(n.count(".model.3") for n in dropouts) == [3, 4, 5]  # levels 5, 6, 7


@tiny_params()
def test_every_generator_keeps_the_image_shape(name, kwargs, size):
    g = get_generator(name, **kwargs)
    assert g(torch.randn(2, 3, *size)).shape == (2, 3, *size)


def test_all_reference_generators_are_registered():
    assert {"resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128"} <= set(list_generators())


def test_reference_checkpoint_loads_with_dataparallel_prefix_and_legacy_keys(tmp_path):
    trained = get_generator("resnet_9blocks", ngf=4)
    state = {f"module.{k}": v for k, v in trained.state_dict().items()}
    state["module.model.2.running_mean"] = torch.zeros(4)  # PyTorch < 0.4 InstanceNorm buffer
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    fresh = get_generator("resnet_9blocks", ngf=4)
    x = torch.randn(1, 3, 32, 32)
    assert not torch.equal(fresh(x), trained(x))
    load_reference_state_dict(fresh, path)
    assert torch.equal(fresh(x), trained(x))


def test_reference_checkpoint_of_another_width_names_the_options(tmp_path):
    path = tmp_path / "latest_net_G.pth"
    torch.save(get_generator("resnet_9blocks", ngf=8).state_dict(), path)
    with pytest.raises(CheckpointError, match="--ngf"):
        load_reference_state_dict(get_generator("resnet_9blocks", ngf=4), path)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_reference_state_dict(get_generator("resnet_9blocks", ngf=4), tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_reference_state_dict(get_generator("resnet_9blocks", ngf=4), tmp_path / "nope.pth")


def test_compact_widths_build_the_same_class_narrower():
    g = get_generator("resnet_9blocks", ngf=4, widths={"trunk": 5, "block3": 2, "up2": 1})
    assert g.widths["trunk"] == 5 and g.widths["c1"] == 4
    assert g.state_dict()["model.13.conv_block.1.weight"].shape == (2, 5, 3, 3)
    assert g(torch.randn(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("widths", [{"trunk": 0}, {"trunk": 17}, {"rgb_out": 2}, {"nope": 3}])
def test_impossible_widths_are_refused(widths):
    with pytest.raises(ValueError):
        get_generator("resnet_9blocks", ngf=4, widths=widths)


def test_layout_refuses_undeclared_groups_and_duplicates():
    a = LatentGroup("a", 4)
    with pytest.raises(ValueError, match="undeclared"):
        ChannelLayout((a,), (ConvSpec("conv", "a", ("b",)),))
    with pytest.raises(ValueError, match="duplicate"):
        ChannelLayout((a, a), ())
