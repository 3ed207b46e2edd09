"""Run configuration: presets, YAML files, --set overrides and their errors."""

from __future__ import annotations

import dataclasses
import re

import pytest

from coronet.config import RunConfig, apply_overrides, from_dict, from_saved, list_presets, load_preset
from coronet.errors import ConfigError
from coronet.gan.networks import controller_config
from coronet.gan.setup import resolve_defaults
from coronet.pruning import FROM_SCRATCH_LR_SCALE, PAPER_SHRINK, ControllerConfig, CostModel


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
    assert (cfg.train.search, cfg.train.finetune, cfg.train.decay) == ("100 epochs",) * 3


def test_the_resnet_pix2pix_preset_follows_gan_compression():
    cfg = from_dict(load_preset("pix2pix-edges2shoes-r"))
    assert (cfg.model.netG, cfg.model.norm, cfg.model.use_dropout, cfg.model.normD, cfg.model.ndf) == (
        "resnet_9blocks", "instance", False, "instance", 128)
    assert cfg.train.gan_mode == "hinge" and cfg.data.flip is False


def test_only_the_resnet_pix2pix_preset_takes_the_smaller_hypernetwork_step():
    """The long-run step (docs/results.md) was measured on ResNet-9 Pix2Pix only, in DHP's form at
    0.1; the preset runs the lean form at the same pace."""
    steps = {name: from_dict(load_preset(name)).train.hyper_lr_scale for name in list_presets()}
    assert steps.pop("pix2pix-edges2shoes-r") == pytest.approx(0.1 * FROM_SCRATCH_LR_SCALE["lean"])
    assert set(steps.values()) == {None}  # resolved by the start


@pytest.mark.parametrize(("form", "init_from", "scale"), [("lean", None, 3.0), ("dhp", None, 1.0),
                                                          ("lean", "g.safetensors", 0.1),
                                                          ("dhp", "g.safetensors", 0.1)])
def test_the_hypernetworks_step_defaults_to_dhps_pace_from_scratch_and_a_tenth_from_a_model(
        form, init_from, scale):
    cfg = RunConfig().updated({"model.hypernet": form, "model.init_from": init_from})
    assert resolve_defaults(cfg).train.hyper_lr_scale == scale
    assert resolve_defaults(cfg.updated({"train.hyper_lr_scale": 0.5})).train.hyper_lr_scale == 0.5


def test_the_papers_l1_step_is_off_unless_asked_for():
    assert RunConfig().prune.shrink == 0.0 and ControllerConfig().shrink == 0.0
    assert controller_config(apply_overrides(RunConfig(), [f"prune.shrink={PAPER_SHRINK}"])).shrink == 0.3


def test_overrides_are_parsed_by_the_fields_declared_type(tmp_path):
    cfg = apply_overrides(RunConfig(), ["train.lr=1e-4", "data.flip=false", "prune.ratio=0.1",
                                        "model.norm=batch", "prune.absolute=none", "data.batch_size=2e1",
                                        "data.preprocess=none", "model.normD=none", "name=2024"])
    assert cfg.train.lr == 1e-4 and cfg.data.flip is False and cfg.prune.ratio == 0.1
    assert cfg.model.norm == "batch" and cfg.prune.absolute is None and cfg.data.batch_size == 20
    assert cfg.data.preprocess == "none" and cfg.model.normD == "none"  # a choice, not "unset"
    assert cfg.name == "2024"
    assert RunConfig().data.flip is True  # a new config each time: the default is untouched
    for item, message in [("train.lrr=1", "unknown config key 'train.lrr'"),
                          ("data.batch_size=1.5", "data.batch_size takes an integer; '1.5' is not one"),
                          ("train.lr=fast", "train.lr takes a number; 'fast' is not one"),
                          ("data.flip=maybe", "data.flip takes true or false; 'maybe' is not one"),
                          ("train.model=gan", "train.model takes one of pix2pix, cyclegan; 'gan' is not one"),
                          ("train.seed=none", "train.seed takes an integer; 'none' is not one"),
                          ("train=1", "train is a section"),
                          ("oops", "section.field=value")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            apply_overrides(RunConfig(), [item])
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("train:\n  model: cyclegan\n  search: 7\n  lr: 2e-4\n")
    mine = from_dict(load_preset(str(yaml_file)))
    assert mine.train.search.steps == 7 and mine.train.lr == 2e-4  # YAML reads 2e-4 as a string
    with pytest.raises(ConfigError, match="no preset"):
        load_preset("no-such-preset")


def test_a_change_makes_a_new_config_and_leaves_the_old_one_as_it_was():
    cfg = RunConfig()
    changed = cfg.updated({"train.lr": 1e-3, "model.ngf": 8})
    assert (changed.train.lr, changed.model.ngf) == (1e-3, 8)
    assert (cfg.train.lr, cfg.model.ngf) == (2e-4, 16) and changed.data == cfg.data
    with pytest.raises(dataclasses.FrozenInstanceError):  # no change in place, not even by accident
        changed.train.lr = 1.0  # type: ignore[misc]


def test_the_dry_run_resolves_the_reference_defaults():
    from coronet.cli._common import resolved

    pix2pix, cyclegan = resolved(RunConfig()), resolved(RunConfig().updated({"train.model": "cyclegan"}))
    assert (pix2pix.train.gan_mode, pix2pix.model.normD, pix2pix.model.use_dropout) == (
        "vanilla", "batch", False)
    assert (cyclegan.train.gan_mode, cyclegan.model.normD) == ("lsgan", "instance")


def test_the_mobile_presets_compress_to_the_published_students_budget():
    """OMGD's mobile ResNet students (ngf 16) cost 1.408 GMACs at 256x256; the mobile presets aim
    there from the ngf-64 mobile ResNet, and the target is one a network of that layout can meet."""
    from coronet.gan import networks, setup

    mobile = [n for n in list_presets() if from_dict(load_preset(n)).model.netG == "mobile_resnet_9blocks"]
    assert sorted(mobile) == ["cyclegan-horse2zebra-mobile", "cyclegan-summer2winter-mobile",
                              "pix2pix-edges2shoes-r-mobile"]
    for name in mobile:
        cfg = setup.resolve_defaults(from_dict(load_preset(name)))
        cost = CostModel(networks.dense_generator(cfg, "G_A"), (cfg.data.crop_size,) * 2)
        budget = networks.budget_for(cfg, "G_A", cost)
        assert abs(budget.limit / 1.408e9 - 1) < 0.01 and budget.floor < budget.lower
        assert budget.ratio < 0.08  # of the 18.3 GMACs mobile ResNet at ngf 64


def test_saved_configs_from_before_the_lean_form_keep_dhps_form():
    saved = RunConfig().updated({"model.hypernet": "dhp"}).to_dict()
    del saved["model"]["hypernet"]  # what a run folder of that time holds
    assert from_saved(saved).model.hypernet == "dhp"
    assert from_saved(RunConfig().to_dict()).model.hypernet == "lean"
    assert from_dict({"model": {"ngf": 8}}).model.hypernet == "lean"  # a preset: the default


def test_a_phase_length_is_steps_or_epochs_and_epochs_become_steps_once_the_data_is_listed():
    from coronet.gan import setup

    cfg = apply_overrides(RunConfig(), ["train.search=5 epochs", "train.finetune=300",
                                        "train.decay=1.5 EPOCH"])
    assert (cfg.train.search, cfg.train.finetune, cfg.train.decay) == ("5 epochs", "300 steps", "1.5 epochs")
    assert cfg.train.finetune.steps == 300 and from_dict(cfg.to_dict()) == cfg
    assert type(cfg.to_dict()["train"]["search"]) is str  # checkpoints load weights-only: plain data
    with pytest.raises(ConfigError, match="no step count"):
        _ = cfg.train.search.steps
    resolved = setup.steps_from_epochs(cfg, steps_per_epoch=7)
    assert (resolved.train.search, resolved.train.finetune, resolved.train.decay) == (
        "35 steps", "300 steps", "11 steps")  # 1.5 x 7 = 10.5 passes' worth of steps, rounded up
    for bad in ("1.5", "-1", "5 weeks", "steps", "1e10", "inf epochs"):
        with pytest.raises(ConfigError, match="train.search takes a length"):
            apply_overrides(RunConfig(), [f"train.search={bad}"])
    with pytest.raises(ConfigError, match="train.search_steps is now train.search"):
        apply_overrides(RunConfig(), ["train.search_steps=100"])


def test_saved_configs_with_a_steps_and_an_epochs_field_per_phase_load_with_their_steps():
    """Before one length per phase, a run saved `search_steps` (resolved from `search_epochs` where
    that was set) beside `search_epochs`; it resumes with the steps it ran."""
    saved = RunConfig().to_dict()
    for phase in ("search", "finetune", "decay"):
        del saved["train"][phase]
    saved["train"] |= {"search_steps": 75, "search_epochs": 5.0, "finetune_steps": 225,
                       "finetune_epochs": 15.0, "decay_steps": 750, "decay_epochs": None}
    cfg = from_saved(saved)
    assert (cfg.train.search, cfg.train.finetune, cfg.train.decay) == ("75 steps", "225 steps", "750 steps")
    assert from_saved(cfg.to_dict()) == cfg
