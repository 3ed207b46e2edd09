"""Compress-while-training end to end on the built-in data, tiny: landing, export, report, resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from coronet.config import RunConfig
from coronet.errors import ConfigError
from coronet.gan import setup
from coronet.gan.report import write_run_outputs
from coronet.gan.trainer import Trainer
from coronet.models import load_generator

CONTRACT = ("dense", "compressed", "achieved_ratio", "widths", "export_max_abs_diff")


def tiny(tmp_path: Path, model: str = "pix2pix", **train) -> RunConfig:
    cfg = RunConfig()
    cfg.out = str(tmp_path / "runs")
    cfg.data.dataroot = "builtin:edges2shapes" if model == "pix2pix" else "builtin:shapes2stripes"
    cfg.data.load_size, cfg.data.crop_size, cfg.data.batch_size = 36, 32, 2
    cfg.data.max_train_items = 12
    cfg.model.ngf, cfg.model.ndf = 4, 8
    cfg.prune.min_channels, cfg.prune.ratio = 1, 0.3
    cfg.train.model = model
    cfg.train.search_steps, cfg.train.finetune_steps, cfg.train.decay_steps = 24, 8, 4
    cfg.train.log_every, cfg.train.sample_every, cfg.train.checkpoint_every = 4, 8, 5
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def _run(cfg: RunConfig, run_dir: Path, compress: bool = True) -> tuple[Trainer, dict]:
    trainer = Trainer(cfg, run_dir, compress=compress)
    trainer.run()
    return trainer, write_run_outputs(trainer, run_dir)


def test_pix2pix_compress_lands_exports_and_reports(tmp_path):
    run_dir = tmp_path / "run"
    trainer, report = _run(tiny(tmp_path), run_dir)
    g = report["generators"]["G_A"]
    assert set(CONTRACT) <= set(g)
    assert {"psnr", "ssim", "l1"} <= set(g["test_metrics"])
    assert 0.98 * 0.3 <= g["achieved_ratio"] <= 0.3
    assert g["compressed"]["macs"] <= 0.3 * g["dense"]["macs"]
    assert g["export_max_abs_diff"] <= 1e-5
    assert report["target"] == {"metric": "macs", "ratio": 0.3, "ratio_B": None, "absolute": None}
    assert report["model"] == "pix2pix" and report["dataset"] == "builtin:edges2shapes"
    assert set(report["versions"]) == {"coronet", "torch", "torchprofile"}
    timing = report["timing"]
    assert timing["iterations"]["finetune"] == 8 and 0 < timing["iterations"]["search"] <= 24
    assert timing["total_s"] >= timing["search_s"] + timing["finetune_s"] > 0
    for name in ("G_A.safetensors", "G_A.json", "report.md", "samples.png", "cost_ratio.png",
                 "widths.png", "log.jsonl", "searched/G_A.safetensors"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir())
    exported = load_generator(run_dir / "G_A.json")
    assert exported.widths == g["group_widths"]
    logged = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert any("macs_ratio/G_A" in r and "alive/G_A/trunk" in r for r in logged)


def test_cyclegan_compresses_both_generators_to_their_own_targets(tmp_path):
    cfg = tiny(tmp_path, "cyclegan")
    cfg.prune.ratio_B = 0.5
    _, report = _run(cfg, tmp_path / "run")
    a, b = report["generators"]["G_A"], report["generators"]["G_B"]
    assert 0.98 * 0.3 <= a["achieved_ratio"] <= 0.3
    assert 0.98 * 0.5 <= b["achieved_ratio"] <= 0.5
    assert max(a["export_max_abs_diff"], b["export_max_abs_diff"]) <= 1e-5
    assert set(report["exported"]) == {"G_A", "G_B"}


def test_parameter_target_on_a_unet(tmp_path):
    cfg = tiny(tmp_path)
    cfg.model.netG, cfg.data.load_size, cfg.data.crop_size = "unet_128", 128, 128
    cfg.prune.metric, cfg.prune.ratio = "params", 0.4
    _, report = _run(cfg, tmp_path / "run")
    g = report["generators"]["G_A"]
    assert 0.98 * 0.4 <= g["compressed"]["params"] / g["dense"]["params"] <= 0.4


def test_dense_training_runs_with_the_same_machinery(tmp_path):
    trainer, report = _run(tiny(tmp_path), tmp_path / "run", compress=False)
    g = report["generators"]["G_A"]
    assert g["compressed"] == g["dense"] and report["target"] is None
    assert report["timing"]["iterations"] == {"search": 0, "finetune": 8}


class _Crash(Exception):
    pass


def _crashing(crash_at: int):
    class CrashingTrainer(Trainer):
        def _after_step(self, values):
            super()._after_step(values)
            if self.step == crash_at:
                raise _Crash

    return CrashingTrainer


@pytest.mark.parametrize(("model", "crash_at"), [("pix2pix", 12), ("pix2pix", 29), ("cyclegan", 17)])
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path, model, crash_at):
    whole, _ = _run(tiny(tmp_path, model), tmp_path / "whole")
    broken_dir = tmp_path / "broken"
    with pytest.raises(_Crash):
        _crashing(crash_at)(tiny(tmp_path, model), broken_dir).run()
    resumed = Trainer.resume(broken_dir)
    assert resumed.step < crash_at  # it went back to the last checkpoint
    resumed.run()
    assert resumed.step == whole.step and resumed.phase == whole.phase == "done"
    for name, g in whole.generators.items():
        theirs = resumed.generators[name].state_dict()
        for key, value in g.state_dict().items():
            assert torch.equal(value, theirs[key]), f"{name}.{key}"
    for name, d in whole.discriminators.items():
        for key, value in d.state_dict().items():
            assert torch.equal(value, resumed.discriminators[name].state_dict()[key])


def test_translation_quality_visibly_improves_on_the_builtin_data(tmp_path):
    """Compressing while training on edges2shapes: the result beats the untrained generator."""
    from coronet.gan.report import evaluate_test_split

    cfg = tiny(tmp_path, search_steps=80, finetune_steps=80, decay_steps=40)
    cfg.model.ngf, cfg.data.max_train_items, cfg.data.batch_size = 8, None, 4
    trainer = Trainer(cfg, tmp_path / "run")
    before = evaluate_test_split(trainer, trainer.generators["G_A"], limit=24)
    trainer.run()
    after = evaluate_test_split(trainer, trainer.generators["G_A"], limit=24)
    assert trainer.exports["G_A"]["achieved_ratio"] <= 0.3
    assert after["l1"] < 0.6 * before["l1"]
    assert after["psnr"] > before["psnr"] + 3.0
    assert after["ssim"] > before["ssim"]


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_init_from_a_dense_generator_starts_the_search_from_its_weights(tmp_path, fmt):
    from coronet.models import get_generator, save_generator

    dense = get_generator("resnet_9blocks", ngf=4)
    with torch.no_grad():
        for p in dense.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path / ("latest_net_G.pth" if fmt == "pth" else "G_A.safetensors")
    torch.save(dense.state_dict(), path) if fmt == "pth" else save_generator(dense, path)
    cfg = tiny(tmp_path)
    cfg.model.init_from = str(path)
    trainer = Trainer(cfg, tmp_path / "run")
    x = torch.randn(2, 3, 32, 32)
    hyper = trainer.generators["G_A"].eval()
    assert (hyper(x) - dense.eval()(x)).abs().max() <= 1e-5
    wrong = tiny(tmp_path)
    wrong.model.ngf = 8
    wrong.model.init_from = str(path)
    with pytest.raises(Exception, match="ngf|widths"):
        Trainer(wrong, tmp_path / "run2")


def _handed_over(tmp_path, finetune_init: str):
    """The fine-tuning generator right after the hand-over, the searched one, and a fresh init of
    the searched widths with the run's seed."""
    from coronet.models import get_generator

    run_dir = tmp_path / "run"
    trainer, _ = _run(tiny(tmp_path, finetune_init=finetune_init, finetune_steps=0, seed=3), run_dir)
    final, searched = trainer.generators["G_A"], load_generator(run_dir / "searched" / "G_A.json")
    assert final.widths == searched.widths
    torch.manual_seed(3)
    return final, searched, get_generator(final.spec.name, widths=final.widths, **final.spec.kwargs)


def test_finetune_from_scratch_keeps_the_searched_widths_with_a_fresh_seeded_init(tmp_path):
    final, searched, reference = _handed_over(tmp_path, "scratch")
    x = torch.randn(2, 3, 32, 32)
    final.eval(), searched.eval(), reference.eval()
    assert torch.equal(final(x), reference(x))
    assert (final(x) - searched(x)).abs().max() > 1e-3
    with pytest.raises(ConfigError, match="finetune_init"):
        setup.resolve_defaults(tiny(tmp_path, finetune_init="pretrained"))


def test_shrink_perturb_hands_over_the_mean_of_the_searched_weights_and_a_fresh_init(tmp_path):
    final, searched, fresh = _handed_over(tmp_path, "shrink-perturb")
    fresh_params, searched_params = dict(fresh.named_parameters()), dict(searched.named_parameters())
    moved = 0.0
    for name, p in final.named_parameters():
        expected = 0.5 * searched_params[name] + 0.5 * fresh_params[name]
        assert torch.allclose(p, expected, atol=1e-7), name
        moved = max(moved, (p - searched_params[name]).detach().abs().max().item())
    assert moved > 1e-3


def test_hyper_lr_scale_slows_the_hypernetworks_and_nothing_else(tmp_path):
    # one Adam step moves a parameter by about its group's lr: the hypernetwork at scale x lr, the
    # latents (and the discriminator) at lr
    moves = {}
    for scale in (1.0, 0.1):
        cfg = tiny(tmp_path / str(scale), search_steps=1, finetune_steps=0)
        cfg.train.hyper_lr_scale = scale
        trainer = Trainer(cfg, tmp_path / f"run{scale}", compress=True)
        hyper = trainer.generators["G_A"]
        before = {n: p.detach().clone() for n, p in hyper.named_parameters()}
        trainer._train_step(next(trainer._batches()))
        moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in hyper.named_parameters()}
        moves[scale] = {kind: max(v for n, v in moved.items() if kind in n) for kind in ("w2", "latents")}
    assert moves[1.0]["w2"] > 5 * moves[0.1]["w2"]
    assert moves[0.1]["latents"] > 0.5 * moves[1.0]["latents"]


def test_hyper_lr_schedule_falls_geometrically_to_the_planned_landing_and_holds(tmp_path):
    cfg = tiny(tmp_path, search_steps=8, finetune_steps=2, decay_steps=0,
               hyper_lr_scale=1.0, hyper_lr_final_scale=0.01)
    cfg.prune.reach_fraction = 0.5  # the controller plans to land at step 4
    trainer = Trainer(cfg, tmp_path / "run", compress=True)
    batches = trainer._batches()
    shares = []
    for _ in range(6):
        values = trainer._train_step(next(batches))
        groups = trainer.opt_G.param_groups
        assert [g.get("hyper", False) for g in groups] == [False, True]
        assert groups[0]["lr"] == cfg.train.lr  # the latents and plain layers keep the full lr
        assert groups[1]["lr"] == pytest.approx(values["lr/hyper"])
        shares.append(values["lr/hyper"] / cfg.train.lr)
        trainer.phase_step += 1
    assert shares == pytest.approx([1.0, 0.1 ** 0.5, 0.1, 0.1 ** 1.5, 0.01, 0.01])
    with pytest.raises(ConfigError, match="hyper_lr_final_scale"):
        setup.resolve_defaults(tiny(tmp_path, hyper_lr_final_scale=0.0))


def test_finetune_warmup_ramps_only_the_compact_generators_lr(tmp_path):
    cfg = tiny(tmp_path, search_steps=2, finetune_steps=6, decay_steps=0, finetune_warmup_steps=3)
    trainer = Trainer(cfg, tmp_path / "run", compress=True)
    batches = trainer._batches()
    search = [trainer._train_step(next(batches)) for _ in range(2)]
    assert all(v["lr/G"] == cfg.train.lr for v in search)  # the search is never warmed up
    trainer._export()
    shares = []
    for _ in range(5):
        values = trainer._train_step(next(batches))
        shares.append(values["lr/G"] / cfg.train.lr)
        assert [g["lr"] for g in trainer.opt_G.param_groups] == [values["lr/G"]]
        assert [g["lr"] for g in trainer.opt_D.param_groups] == [cfg.train.lr]
        trainer.phase_step += 1
    assert shares == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    with pytest.raises(ConfigError, match="finetune_warmup_steps"):
        setup.resolve_defaults(tiny(tmp_path, finetune_warmup_steps=-1))


def test_compiled_generators_train_like_eager_ones_through_search_and_finetuning(tmp_path):
    from torch._dynamo.utils import counters

    trainers = {}
    for flag in (False, True):
        cfg = tiny(tmp_path / str(flag), search_steps=10, finetune_steps=2, decay_steps=1)
        cfg.train.compile = flag
        trainers[flag] = Trainer(cfg, tmp_path / f"run{flag}", compress=True)
    batch = next(trainers[False]._batches())
    graphs = counters["stats"]["unique_graphs"]
    losses = {flag: t._train_step(batch) for flag, t in trainers.items()}
    assert counters["stats"]["unique_graphs"] > graphs  # the hyper-generator was compiled
    for key, value in losses[False].items():
        assert losses[True][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # the same function: the same names (checkpoints read alike) and the same output after the step
    eager, compiled = (t.generators["G_A"] for t in trainers.values())
    assert dict(eager.named_parameters()).keys() == dict(compiled.named_parameters()).keys()
    with torch.no_grad():
        out = eager(batch["A"])
        torch.testing.assert_close(compiled(batch["A"]), out, rtol=0, atol=5e-4)  # measured: 2.5e-5

    run = trainers[True]
    graphs = counters["stats"]["unique_graphs"]
    run.run()
    assert run.phase == "done" and run.steps_done["finetune"] == 2
    assert counters["stats"]["unique_graphs"] > graphs  # and so was the compact one
    assert run.exports["G_A"]["export_max_abs_diff"] <= 1e-5
    assert Trainer.resume(tmp_path / "runTrue").generators["G_A"].widths == run.generators["G_A"].widths


def test_a_failing_torch_compile_is_one_message_with_the_way_round_it(tmp_path, monkeypatch):
    from coronet.pruning import HyperGenerator

    def no_compiler(gm, example_inputs):
        raise RuntimeError("Compiler: cc is not found")

    original = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: original(self, backend=no_compiler))
    cfg = tiny(tmp_path, search_steps=4, finetune_steps=2)
    cfg.train.compile = True
    with pytest.raises(ConfigError, match=r"torch.compile failed at step 1 \(RuntimeError: Compiler: cc is "
                                          r"not found\); run without --set train.compile=true$"):
        Trainer(cfg, tmp_path / "run", compress=True).run()  # nothing saved yet: nothing to resume

    # the search compiles (a backend without a compiler); the compact generator after it fails
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: original(
        self, backend="eager" if isinstance(self, HyperGenerator) else no_compiler))
    run_dir = tmp_path / "later"
    hint = f"continue this run with --resume {run_dir} --set train.compile=false"
    with pytest.raises(ConfigError, match=re.escape(hint)):
        Trainer(cfg, run_dir, compress=True).run()
    resumed = Trainer.resume(run_dir, overrides=["train.compile=false"])
    assert resumed.phase == "finetune"  # saved at the hand-over, before the failing step
    resumed.run()
    assert resumed.phase == "done" and resumed.steps_done["finetune"] == 2


def test_resume_may_change_how_a_run_executes_but_not_what_it_computes(tmp_path):
    run_dir = tmp_path / "run"
    _run(tiny(tmp_path, search_steps=4, finetune_steps=2), run_dir)
    resumed = Trainer.resume(run_dir, overrides=["train.compile=true", "data.num_workers=1"])
    assert resumed.cfg.train.compile and resumed.cfg.data.num_workers == 1
    with pytest.raises(ConfigError, match="prune.ratio cannot change"):
        Trainer.resume(run_dir, overrides=["prune.ratio=0.5"])
    with pytest.raises(ConfigError, match="expects section.field=value"):
        Trainer.resume(run_dir, overrides=["train.compile"])
