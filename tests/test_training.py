"""Compress-while-training end to end on the built-in data, tiny: landing, export, report, resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from coronet.config import RunConfig
from coronet.errors import ConfigError
from coronet.gan import Callback
from coronet.gan.trainer import Trainer
from coronet.models import load_generator
from coronet.runs import CHECKPOINT
from coronet.runs.outputs import write_run_outputs

CONTRACT = ("dense", "compressed", "achieved_ratio", "widths", "export_max_abs_diff")


def tiny(tmp_path: Path, model: str = "pix2pix", **train) -> RunConfig:
    return RunConfig().updated({
        "out": str(tmp_path / "runs"),
        "data.dataroot": "builtin:edges2shapes" if model == "pix2pix" else "builtin:shapes2stripes",
        "data.load_size": 36, "data.crop_size": 32, "data.batch_size": 2, "data.max_train_items": 12,
        "model.ngf": 4, "model.ndf": 8, "prune.min_channels": 1, "prune.ratio": 0.3,
        "train.model": model, "train.search": 24, "train.finetune": 8, "train.decay": 4,
        "train.log_every": 4, "train.sample_every": 8, "train.checkpoint_every": 5,
        **{f"train.{k}": v for k, v in train.items()}})


def _run(cfg: RunConfig, run_dir: Path, compress: bool = True) -> tuple[Trainer, dict]:
    trainer = Trainer(cfg, run_dir, compress=compress)
    return trainer, write_run_outputs(trainer.run(), run_dir, trainer.test_set)


def test_pix2pix_compress_lands_exports_and_reports(tmp_path):
    run_dir = tmp_path / "run"
    trainer, report = _run(tiny(tmp_path), run_dir)
    g = report["generators"]["G_A"]
    assert set(CONTRACT) <= set(g)
    assert {"psnr", "ssim", "l1"} <= set(g["test_metrics"])
    assert 0.98 * 0.3 <= g["achieved_ratio"] <= 0.3
    assert g["compressed"]["macs"] <= 0.3 * g["dense"]["macs"]
    assert g["export_max_abs_diff"] <= 1e-5
    assert report["target"] == {"metric": "macs", "ratio": 0.3, "ratio_B": None, "absolute": None,
                                "absolute_B": None}
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
    trainer = Trainer(tiny(tmp_path, "cyclegan"), tmp_path / "probe")
    dense_B = trainer.controllers["G_B"].budget.dense
    cfg = tiny(tmp_path, "cyclegan").updated({"prune.ratio_B": 0.5, "prune.absolute_B": 0.4 * dense_B})
    _, report = _run(cfg, tmp_path / "run")
    a, b = report["generators"]["G_A"], report["generators"]["G_B"]
    assert 0.98 * 0.3 <= a["achieved_ratio"] <= 0.3
    assert 0.98 * 0.4 <= b["achieved_ratio"] <= 0.4  # G_B's own absolute count decides over ratio_B
    assert max(a["export_max_abs_diff"], b["export_max_abs_diff"]) <= 1e-5
    assert set(report["exported"]) == {"G_A", "G_B"}


def test_parameter_target_on_a_unet(tmp_path):
    cfg = tiny(tmp_path).updated({"model.netG": "unet_128", "data.load_size": 128, "data.crop_size": 128,
                                  "prune.metric": "params", "prune.ratio": 0.4})
    _, report = _run(cfg, tmp_path / "run")
    g = report["generators"]["G_A"]
    assert 0.98 * 0.4 <= g["compressed"]["params"] / g["dense"]["params"] <= 0.4


def test_dense_training_runs_with_the_same_machinery(tmp_path):
    trainer, report = _run(tiny(tmp_path), tmp_path / "run", compress=False)
    g = report["generators"]["G_A"]
    assert g["compressed"] == g["dense"] and report["target"] is None
    assert report["timing"]["iterations"] == {"search": 0, "finetune": 8}


def test_a_baseline_is_a_run_cut_from_a_trained_one_with_its_discriminator(tmp_path):
    """Magnitude pruning as a config: the trained generator at another run's widths, and the
    trained run's discriminator going on."""
    from coronet.errors import CheckpointError

    dense_dir, searched_dir = tmp_path / "dense", tmp_path / "searched"
    dense, _ = _run(tiny(tmp_path), dense_dir, compress=False)
    _run(tiny(tmp_path, finetune=0), searched_dir)
    cfg = tiny(tmp_path).updated({"model.init_from": str(dense_dir / "G_A.safetensors"),
                                  "model.widths": str(searched_dir / "searched" / "G_A.json"),
                                  "model.init_D_from": str(dense_dir / CHECKPOINT)})
    cut = Trainer(cfg, tmp_path / "cut", compress=False)
    assert cut.generators["G_A"].widths == load_generator(searched_dir / "searched" / "G_A.json").widths
    for key, value in dense.discriminators["D"].state_dict().items():
        torch.testing.assert_close(cut.discriminators["D"].state_dict()[key], value)
    cut.run()
    with pytest.raises(CheckpointError, match="holds no discriminators for this run"):
        Trainer(tiny(tmp_path, "cyclegan").updated({"model.init_D_from": str(dense_dir / CHECKPOINT)}),
                tmp_path / "wrong")


class _Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, values):
        if trainer.step == self.step:
            raise _Crash


@pytest.mark.parametrize(("model", "crash_at"), [("pix2pix", 12), ("pix2pix", 22), ("cyclegan", 17)])
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path, model, crash_at):
    whole, _ = _run(tiny(tmp_path, model), tmp_path / "whole")
    broken_dir = tmp_path / "broken"
    with pytest.raises(_Crash):
        Trainer(tiny(tmp_path, model), broken_dir, callbacks=[CrashAt(crash_at)]).run()
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


def test_a_run_saved_by_an_earlier_coronet_continues_in_its_form(tmp_path):
    """Checkpoints written before `model.hypernet` existed hold DHP's parameters and no such field,
    and their masks as `latents.alive_<group>`: they resume in that form and finish as an
    uninterrupted DHP run does."""
    cfg = tiny(tmp_path).updated({"model.hypernet": "dhp"})
    whole, _ = _run(cfg, tmp_path / "whole")
    with pytest.raises(_Crash):
        Trainer(cfg, tmp_path / "old", callbacks=[CrashAt(12)]).run()
    path = tmp_path / "old" / CHECKPOINT
    state = torch.load(path, weights_only=True)
    del state["config"]["model"]["hypernet"]
    saved = state["generators"]["G_A"]["state"]
    for key in [k for k in saved if k.startswith("latents.alive_masks.")]:
        saved[key.replace("alive_masks.", "alive_")] = saved.pop(key)
    torch.save(state, path)
    resumed = Trainer.resume(tmp_path / "old")
    assert resumed.cfg.model.hypernet == "dhp"
    resumed.run()
    for key, value in whole.generators["G_A"].state_dict().items():
        assert torch.equal(value, resumed.generators["G_A"].state_dict()[key]), key


def test_translation_quality_visibly_improves_on_the_builtin_data(tmp_path):
    """Compressing while training on edges2shapes: the result beats the untrained generator."""
    from coronet.eval.report import evaluate_test_split

    cfg = tiny(tmp_path, search=80, finetune=80, decay=40).updated(
        {"model.ngf": 8, "data.max_train_items": None, "data.batch_size": 4})
    trainer = Trainer(cfg, tmp_path / "run")
    before = evaluate_test_split(trainer.test_set, trainer.generators["G_A"], limit=24)
    summary = trainer.run()
    after = evaluate_test_split(trainer.test_set, summary.generators["G_A"].generator, limit=24)
    assert summary.generators["G_A"].handover.achieved_ratio <= 0.3
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
    cfg = tiny(tmp_path).updated({"model.init_from": str(path)})
    trainer = Trainer(cfg, tmp_path / "run")
    x = torch.randn(2, 3, 32, 32)
    hyper = trainer.generators["G_A"].eval()
    assert (hyper(x) - dense.eval()(x)).abs().max() <= 1e-5
    wrong = tiny(tmp_path).updated({"model.ngf": 8, "model.init_from": str(path)})
    with pytest.raises(Exception, match="ngf|widths"):
        Trainer(wrong, tmp_path / "run2")


def test_a_handover_callback_decides_what_fine_tunes(tmp_path):
    """The extension point a baseline uses: replace the compact generator at the hand-over."""
    from coronet.models import get_generator

    class Fresh(Callback):
        def on_handover(self, trainer, name, hyper, compact):
            seen.append((name, compact.widths == hyper.widths()))
            torch.manual_seed(3)
            return get_generator(compact.spec.name, widths=compact.widths, **compact.spec.kwargs)

    seen: list = []
    run_dir = tmp_path / "run"
    summary = Trainer(tiny(tmp_path, finetune=0), run_dir, callbacks=[Fresh()]).run()
    final, searched = summary.generators["G_A"].generator, load_generator(run_dir / "searched" / "G_A.json")
    assert seen == [("G_A", True)] and final.widths == searched.widths
    torch.manual_seed(3)
    reference = get_generator(final.spec.name, widths=final.widths, **final.spec.kwargs)
    x = torch.randn(2, 3, 32, 32)
    final.eval(), searched.eval(), reference.eval()
    assert torch.equal(final(x), reference(x))
    assert (final(x) - searched(x)).abs().max() > 1e-3


def test_hyper_lr_scale_slows_the_hypernetworks_and_nothing_else(tmp_path):
    # one Adam step moves a parameter by about its group's lr: the hypernetwork at scale x lr, the
    # latents (and the discriminator) at lr
    moves = {}
    for scale in (1.0, 0.1):
        cfg = tiny(tmp_path / str(scale), search=1, finetune=0, hyper_lr_scale=scale)
        trainer = Trainer(cfg, tmp_path / f"run{scale}", compress=True)
        hyper = trainer.generators["G_A"]
        before = {n: p.detach().clone() for n, p in hyper.named_parameters()}
        trainer.train_step(next(trainer.batches()))
        moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in hyper.named_parameters()}
        generating = {n for n, p in hyper.named_parameters()
                      if any(p is q for q in hyper.hypernetwork_parameters())}
        moves[scale] = {"hyper": max(v for n, v in moved.items() if n in generating),
                        "latents": max(v for n, v in moved.items() if "latents" in n)}
    assert moves[1.0]["hyper"] > 5 * moves[0.1]["hyper"]
    assert moves[0.1]["latents"] > 0.5 * moves[1.0]["latents"]


def test_compiled_generators_train_like_eager_ones_through_search_and_finetuning(tmp_path):
    from torch._dynamo.utils import counters

    trainers = {}
    for flag in (False, True):
        cfg = tiny(tmp_path / str(flag), search=10, finetune=2, decay=1, compile=flag)
        trainers[flag] = Trainer(cfg, tmp_path / f"run{flag}", compress=True)
    batch = next(trainers[False].batches())
    eager, compiled = (t.generators["G_A"] for t in trainers.values())
    assert dict(eager.named_parameters()).keys() == dict(compiled.named_parameters()).keys()
    graphs = counters["stats"]["unique_graphs"]
    with torch.no_grad():  # the same function before the step (the same seed built both)
        out = eager(batch["A"])
        torch.testing.assert_close(compiled(batch["A"]), out, rtol=0, atol=5e-4)  # measured: 1.3e-4
    losses = {flag: t.train_step(batch) for flag, t in trainers.items()}
    assert counters["stats"]["unique_graphs"] > graphs  # the hyper-generator was compiled
    for key, value in losses[False].items():
        assert losses[True][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # not compared after the step: Adam's first move lr g / (|g| + eps) turns the compiled kernels'
    # reordered sums in a near-zero gradient into a move of lr (measured: 7e-4 at the output)

    run = trainers[True]
    graphs = counters["stats"]["unique_graphs"]
    summary = run.run()
    assert summary.phase == "done" and summary.steps["finetune"] == 2
    assert counters["stats"]["unique_graphs"] > graphs  # and so was the compact one
    assert summary.generators["G_A"].handover.export_max_abs_diff <= 1e-5
    assert Trainer.resume(tmp_path / "runTrue").generators["G_A"].widths == run.generators["G_A"].widths


def test_a_failing_torch_compile_is_one_message_with_the_way_round_it(tmp_path, monkeypatch):
    from coronet.pruning import HyperGenerator

    def no_compiler(gm, example_inputs):
        raise RuntimeError("Compiler: cc is not found")

    original = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: original(self, backend=no_compiler))
    cfg = tiny(tmp_path, search=4, finetune=2, compile=True)
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
    assert resumed.phase == "done" and resumed.progress.steps_done["finetune"] == 2


def test_resume_may_change_how_a_run_executes_but_not_what_it_computes(tmp_path):
    run_dir = tmp_path / "run"
    _run(tiny(tmp_path, search=4, finetune=2), run_dir)
    resumed = Trainer.resume(run_dir, overrides=["train.compile=true", "data.num_workers=1"])
    assert resumed.cfg.train.compile and resumed.cfg.data.num_workers == 1
    with pytest.raises(ConfigError, match="prune.ratio cannot change"):
        Trainer.resume(run_dir, overrides=["prune.ratio=0.5"])
    with pytest.raises(ConfigError, match="expects section.field=value"):
        Trainer.resume(run_dir, overrides=["train.compile"])
