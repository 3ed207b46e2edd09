"""benchmarks/variant.py: --hypernet-finetune (fine-tuning through the hypernetwork, export at the end)
and --uniform-lr-scale / --magnitude-lr-scale / --dense-lr-scale (a baseline at a larger generator step)."""

from __future__ import annotations

import argparse

import pytest
import torch

from coronet.pruning.hyperconv import HyperConv
from test_training import tiny
from variant import HypernetFinetune, scaled_generator_lr


def test_hypernet_finetune_trains_the_hyper_model_at_fixed_widths_and_exports_what_it_computes(tmp_path):
    torch.manual_seed(0)
    cfg = tiny(tmp_path, checkpoint_every=0)

    class Watched(HypernetFinetune):
        """Records the hyper-model at the end, before the export replaces it."""

        def _enter(self, phase: str) -> None:
            if phase == "finetune":
                self.searched = {n: (g.widths(), [p.detach().clone() for p in g.hypernetwork_parameters()])
                                 for n, g in self.generators.items()}
            if phase == "done":
                self.hyper = dict(self.generators)
            super()._enter(phase)

    trainer = Watched(cfg, tmp_path / "run", compress=True)
    trainer.run()
    hyper, compact = trainer.hyper["G_A"], trainer.generators["G_A"]
    widths, start = trainer.searched["G_A"]
    assert trainer.steps_done["finetune"] == cfg.train.finetune_steps
    assert hyper.widths() == widths == compact.widths  # the fine-tune kept the searched widths
    assert 0.98 * 0.3 <= trainer.exports["G_A"]["achieved_ratio"] <= 0.3
    moved = [not torch.equal(a, b) for a, b in zip(start, hyper.hypernetwork_parameters(), strict=True)]
    assert all(moved)  # every hypernetwork parameter went on training after the search
    x = trainer.sample_batch["A"]
    hyper.eval()
    compact.eval()
    with torch.no_grad():
        torch.testing.assert_close(compact(x), hyper(x), atol=1e-5, rtol=0)
    assert not any(isinstance(m, HyperConv) for m in compact.modules())  # plain convolutions


def test_scaled_generator_lr_moves_only_the_generators_by_the_scale(tmp_path):
    cfg = tiny(tmp_path, search_steps=0, finetune_steps=2)
    trainer = scaled_generator_lr(5.0)(cfg, tmp_path / "run", compress=False)
    values = trainer._train_step(next(trainer._batches()))
    assert [g["lr"] for g in trainer.opt_G.param_groups] == [5.0 * values["lr"]]
    assert [g["lr"] for g in trainer.opt_D.param_groups] == [values["lr"]]


def _arguments(tmp_path, **control: float) -> argparse.Namespace:
    """benchmarks/variant.py's arguments for a tiny Pix2Pix run, with one baseline control."""
    return argparse.Namespace(
        data="builtin:edges2shapes", size=32, batch=2, ngf=8, model="pix2pix", seed=0, search_steps=2,
        finetune_steps=0, finetune_init="searched", latent_init=None, scale_free_output=False,
        hyper_lr_scale=1.0, hyper_lr_final=None, finetune_warmup=0, gamma=None, work=tmp_path / "work",
        **control)


def test_magnitude_row_prunes_the_dense_row_of_work_and_fine_tunes_it_at_the_scaled_lr(tmp_path):
    import baselines as B
    from coronet.pruning.baselines import magnitude_prune
    from variant import magnitude_row

    args = _arguments(tmp_path, magnitude_lr_scale=2.5)
    B.dense_row(args, steps=2)
    dense = B.generators_of(args, "dense")["G_A"]
    widths = B.uniform_row_widths(B.config(args), 0.5)["G_A"]
    trainer, _ = magnitude_row(args, 0.5, args)  # no fine-tune steps: the pruned start itself
    pruned, expected = trainer.generators["G_A"], magnitude_prune(dense.train(), widths)
    assert pruned.widths == widths
    for (name, p), q in zip(pruned.state_dict().items(), expected.state_dict().values(), strict=True):
        assert torch.allclose(p, q, rtol=0, atol=1e-6), name  # float rounding; a step moves ~lr = 2e-4
    saved = torch.load(B.row_dir(args, "dense") / "discriminators.pt", weights_only=True)
    for name, p in trainer.discriminators["D"].state_dict().items():
        assert torch.equal(p, saved["D"][name]), name  # the dense row's discriminator goes on
    assert [g["lr_scale"] for g in trainer.opt_G.param_groups] == [2.5]
    assert [g.get("lr_scale", 1.0) for g in trainer.opt_D.param_groups] == [1.0]


def test_finetune_lr_scale_leaves_the_search_and_scales_only_the_handed_over_generators(tmp_path):
    cfg = tiny(tmp_path, checkpoint_every=0)
    seen = {}

    class Watched(scaled_generator_lr(5.0, plain_only=True)):
        def _train_step(self, batch):
            values = super()._train_step(batch)
            seen.setdefault(self.phase, []).append([g["lr"] / values["lr"] for g in self.opt_G.param_groups])
            return values

    torch.manual_seed(0)
    Watched(cfg, tmp_path / "watched", compress=True).run()
    assert seen["search"] and all(r == [1.0] for r in seen["search"])
    assert seen["finetune"] and all(r == [pytest.approx(5.0)] for r in seen["finetune"])


def test_dense_row_retrains_the_references_dense_row_at_its_steps_and_the_scaled_lr(tmp_path):
    from variant import dense_row

    args = _arguments(tmp_path, dense_lr_scale=5.0)
    theirs = [{"row": "uniform@0.5", "steps": 7}, {"row": "dense", "steps": 3}]
    trainer, _ = dense_row(args, theirs)
    g = trainer.generators["G_A"]
    assert sum(trainer.steps_done.values()) == 3  # the dense row's steps, not another row's
    assert g.widths == g.layout.dense_widths()
    assert [g["lr_scale"] for g in trainer.opt_G.param_groups] == [5.0]
    assert [g.get("lr_scale", 1.0) for g in trainer.opt_D.param_groups] == [1.0]
