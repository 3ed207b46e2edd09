"""Run configuration: presets, YAML files, --set overrides and their errors."""

from __future__ import annotations

import pytest

from coronet.config import RunConfig, apply_overrides, from_dict, list_presets, load_preset
from coronet.errors import ConfigError


def test_every_preset_loads_into_a_valid_config():
    names = list_presets()
    assert {"quickstart-pix2pix", "quickstart-cyclegan", "cyclegan-horse2zebra",
            "cyclegan-summer2winter", "pix2pix-edges2shoes-r", "pix2pix-edges2shoes-unet"} <= set(names)
    for name in names:
        cfg = from_dict(load_preset(name))
        assert cfg.train.model in ("pix2pix", "cyclegan")


def test_horse2zebra_preset_carries_the_reference_schedule():
    cfg = from_dict(load_preset("cyclegan-horse2zebra"))
    assert (cfg.model.netG, cfg.model.ngf, cfg.data.load_size, cfg.data.crop_size) == (
        "resnet_9blocks", 64, 286, 256)
    assert cfg.data.batch_size == 1 and cfg.train.lr == 2e-4 and cfg.train.pool_size == 50
    assert cfg.train.search_epochs + cfg.train.finetune_epochs == 200


def test_only_the_resnet_pix2pix_preset_takes_the_smaller_hypernetwork_step():
    """The long-run step (README, "Four options under test") was measured on ResNet-9 Pix2Pix only."""
    steps = {name: from_dict(load_preset(name)).train.hyper_lr_scale for name in list_presets()}
    assert steps.pop("pix2pix-edges2shoes-r") == 0.1
    assert set(steps.values()) == {1.0}


def test_overrides_are_typed_and_checked(tmp_path):
    cfg = apply_overrides(RunConfig(), ["train.lr=1e-4", "data.flip=false", "prune.ratio=0.1",
                                        "model.norm=batch", "prune.absolute=none"])
    assert cfg.train.lr == 1e-4 and cfg.data.flip is False and cfg.prune.ratio == 0.1
    assert cfg.model.norm == "batch"
    with pytest.raises(ConfigError, match="unknown config key 'train.lrr'"):
        apply_overrides(RunConfig(), ["train.lrr=1"])
    with pytest.raises(ConfigError, match="not a valid int"):
        apply_overrides(RunConfig(), ["data.batch_size=1.5"])
    with pytest.raises(ConfigError, match="KEY|section.field=value"):
        apply_overrides(RunConfig(), ["oops"])
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("train:\n  model: cyclegan\n  search_steps: 7\n")
    assert from_dict(load_preset(str(yaml_file))).train.search_steps == 7
    with pytest.raises(ConfigError, match="no preset"):
        load_preset("no-such-preset")


def test_latent_start_is_checked_against_the_init():
    from coronet.gan.setup import resolve_defaults

    ones = resolve_defaults(apply_overrides(RunConfig(), ["model.latent_init=ones"]))
    assert ones.model.latent_init == "ones"
    with pytest.raises(ConfigError, match="latent_init must be one of"):
        resolve_defaults(apply_overrides(RunConfig(), ["model.latent_init=uniform"]))
    with pytest.raises(ConfigError, match="needs model.latent_init=ones"):
        resolve_defaults(apply_overrides(RunConfig(), ["model.latent_init=normal",
                                                       "model.init_from=dense.pth"]))
    with pytest.raises(ConfigError, match="latent_init=norms reads the filters of a trained dense"):
        resolve_defaults(apply_overrides(RunConfig(), ["model.latent_init=norms"]))
    norms = resolve_defaults(apply_overrides(RunConfig(), ["model.latent_init=norms",
                                                           "model.init_from=dense.pth"]))
    assert norms.model.latent_init == "norms"
