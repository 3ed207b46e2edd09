"""The training loop behind `coronet compress` and `coronet train`.

compress: search (hyper-generators; after every generator step each controller ranks the
channels by their mask gradients and removes the weakest per MAC) -> export (plain compact
generators, checked against the masked hyper-models) -> fine-tune (the compact generators, fresh
Adam, linear LR decay) -> done.
train (dense baseline): one phase with the same data, losses and schedule.
Every `checkpoint_every` steps and at every phase change the whole state is checkpointed
atomically; `Trainer.resume` continues bit-for-bit on the CPU with deterministic settings.
Code outside the loop extends it through `Callback`s (`coronet.gan.hooks`) and reads its result
from the `RunSummary` that `run()` returns.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from coronet.config import RunConfig, apply_overrides, from_saved
from coronet.errors import CheckpointError, ConfigError
from coronet.gan import setup
from coronet.gan.checkpoint import load_checkpoint, save_checkpoint
from coronet.gan.distributed import DistContext
from coronet.gan.health import Health, TrainingDiverged, losses_of, non_finite_weight
from coronet.gan.hooks import Callback
from coronet.gan.image_pool import ImagePool
from coronet.gan.logger import RunLogger
from coronet.gan.objectives import Pix2PixObjective
from coronet.gan.schedule import learning_rate
from coronet.gan.stopping import Interrupted, stop_requests
from coronet.gan.summary import GeneratorSummary, Handover, RunSummary
from coronet.models import save_generator
from coronet.pruning import (
    BudgetController,
    CostModel,
    HyperGenerator,
    hypernetize,
    lr_groups,
    materialize,
    search_diagnostics,
)
from coronet.runs import CHECKPOINT

SAMPLES = 4
# how a run executes, not what it computes (skip_bad_images: a file that broke after the start)
RESUME_SETTABLE = ("train.compile", "data.num_workers", "data.skip_bad_images")


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, compress: bool = True,
                 dist: DistContext | None = None, callbacks: list[Callback] | None = None) -> None:
        cfg = setup.resolve_defaults(cfg)
        self.run_dir = Path(run_dir)
        self.compress = compress
        self.dist = dist or DistContext()
        self.callbacks = list(callbacks or [])
        self.device = torch.device(cfg.train.device)
        torch.manual_seed(cfg.train.seed)
        torch.use_deterministic_algorithms(cfg.train.deterministic, warn_only=True)
        self.train_set, self.test_set = setup.make_datasets(cfg)
        self.steps_per_epoch = setup.steps_per_epoch(len(self.train_set), cfg.data.batch_size,
                                                     self.dist.world)
        self.cfg = cfg = setup.steps_from_epochs(cfg, self.steps_per_epoch)
        self.names = setup.generator_names(cfg)
        self.generators: dict[str, nn.Module] = {}
        self.controllers: dict[str, BudgetController] = {}
        self.cost_models = {}
        size = (cfg.data.crop_size, cfg.data.crop_size)
        for name in self.names:
            dense = setup.dense_generator(cfg, name)
            if compress:
                hyper = hypernetize(dense, cfg.model.hypernet, cfg.model.embedding_dim,
                                    init="dense" if self._init_source(name) else "scratch")
                cost = hyper.cost_model(size)
                budget = setup.budget_for(cfg, name, cost)  # refuses impossible targets now
                self.controllers[name] = BudgetController(
                    hyper.latents, cost, budget, cfg.train.search_steps, cfg.train.lr,
                    setup.controller_config(cfg))
                self.generators[name] = hyper
            else:
                self.generators[name] = dense
                cost = CostModel(dense, size)
            self.cost_models[name] = cost
        self.discriminators = setup.discriminators(cfg)
        self.pools = {side: ImagePool(cfg.train.pool_size, seed=cfg.train.seed + i)
                      for i, side in enumerate("AB")}
        self._to_device()
        self._build_optimizers()
        self._views: dict[str, nn.Module] = {}
        self.objective = self._objective()
        self.phase = "search" if compress else "train"
        self.step = self.phase_step = self.epoch = self.batch_in_epoch = 0
        self.timing: dict[str, float] = {"search_s": 0.0, "export_s": 0.0, "finetune_s": 0.0,
                                         "train_s": 0.0}
        self.steps_done: dict[str, int] = {"search": 0, "finetune": 0, "train": 0}
        self.history: list[dict[str, Any]] = []
        self.handovers: dict[str, Handover] = {}
        self.logger: RunLogger | None = None
        self.health = Health()
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.sample_batch = self._fixed_batch(self.test_set)

    def use_generators(self, generators: dict[str, nn.Module]) -> None:
        """Train these plain generators instead of the dense ones (baselines: a thinner model from
        scratch, a pruned one to fine-tune). Only before the first step of a `compress=False` run."""
        if self.compress or self.step:
            raise RuntimeError("use_generators is for a dense-training run that has not started")
        if set(generators) != set(self.names):
            raise ValueError(f"give exactly the generators {self.names}")
        size = (self.cfg.data.crop_size, self.cfg.data.crop_size)
        for name, g in generators.items():
            self.generators[name] = g.to(self.device).train()
            self.cost_models[name] = CostModel(g, size)
        self._build_optimizers()
        self.objective = self._objective()

    # ----------------------------------------------------------------- building blocks
    def _init_source(self, name: str) -> str | None:
        m = self.cfg.model
        return m.init_from_B if name == "G_B" else m.init_from

    def _to_device(self) -> None:
        for module in list(self.generators.values()) + list(self.discriminators.values()):
            module.to(self.device)

    def _objective(self):
        """The objective over the modules to train through (DDP wrappers when distributed)."""
        def wrap(name: str, module: nn.Module) -> nn.Module:  # one DDP wrapper per module, ever
            view = self._views.get(name)
            if view is None or getattr(view, "module", view) is not module:
                if self.cfg.train.compile and name in self.generators:
                    module.compile()  # in place: state-dict keys and checkpoints stay the same
                self._views[name] = view = self.dist.wrap(module)
            return view

        return setup.objective(self.cfg, {n: wrap(n, g) for n, g in self.generators.items()},
                               {n: wrap(n, d) for n, d in self.discriminators.items()}, self.pools,
                               judges=self.discriminators)

    def _adam(self, params) -> torch.optim.Optimizer:
        t = self.cfg.train
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, 0.999), fused=fused)

    def _build_optimizers(self) -> None:
        self.opt_G = self._generator_optimizer()
        self.opt_D = self._adam([p for d in self.discriminators.values() for p in d.parameters()])

    def _generator_optimizer(self) -> torch.optim.Optimizer:
        """Adam over the generators; the hypernetworks' parameters at `hyper_lr_scale` x lr."""
        return self._adam(lr_groups(self.generators.values(), self.cfg.train.hyper_lr_scale))

    def _fixed_batch(self, dataset) -> dict[str, torch.Tensor]:
        items = [dataset[i] for i in range(min(SAMPLES, len(dataset)))]
        return {k: torch.stack([it[k] for it in items]) for k in ("A", "B")}

    def _phase_length(self) -> int:
        t = self.cfg.train
        return {"search": t.search_steps, "finetune": t.finetune_steps,
                "train": t.finetune_steps}[self.phase]

    def _lr(self) -> float:
        t = self.cfg.train
        return learning_rate(t.lr, self.phase, self.phase_step, self._phase_length(), t.decay_steps)

    # ----------------------------------------------------------------- data
    def _epoch_indices(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.train_set), generator=g).tolist()
        return order[self.dist.rank::self.dist.world]

    def batches(self):
        """Endless training batches; resumes at (epoch, batch_in_epoch)."""
        bs = self.cfg.data.batch_size
        while True:
            self.train_set.set_epoch(self.epoch)
            indices = self._epoch_indices(self.epoch)
            chunks = [indices[i:i + bs] for i in range(0, len(indices), bs)]
            loader = torch.utils.data.DataLoader(
                torch.utils.data.Subset(self.train_set, [i for c in chunks[self.batch_in_epoch:] for i in c]),
                batch_size=bs, shuffle=False, num_workers=self.cfg.data.num_workers)
            for batch in loader:
                self.batch_in_epoch += 1
                yield batch
            self.epoch += 1
            self.batch_in_epoch = 0

    # ----------------------------------------------------------------- one step
    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimiser step of the discriminators and the generators (and, during the search, the
        controllers' ranking and deaths); returns the step's scalars. `run()` calls it; benchmarks may
        call it alone (it does not count or checkpoint the step)."""
        batch = {k: v.to(self.device) for k, v in batch.items() if torch.is_tensor(v)}
        lr = self._lr()
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
        obj = self.objective
        with ExitStack() as once:  # each hyper-generator's kernels generated once for the step
            for generator in self.generators.values():
                if isinstance(generator, HyperGenerator):
                    once.enter_context(generator.reusing_kernels())
            fakes = obj.forward(batch)
            if isinstance(obj, Pix2PixObjective):  # the reference updates D first for Pix2Pix
                d = self._optimize(self.opt_D, obj.d_loss(batch, fakes), "D")
                g = self._optimize(self.opt_G, obj.g_loss(batch, fakes), "G")
            else:
                g = self._optimize(self.opt_G, obj.g_loss(batch, fakes), "G")
                d = self._optimize(self.opt_D, obj.d_loss(batch, fakes), "D")
        if self.phase == "search":
            for ctl in self.controllers.values():
                ctl.step(lr)
        return {**{f"loss/{k}": v for k, v in {**g, **d}.items()}, "lr": lr}

    def _train_step_or_explain(self, batch: dict) -> dict[str, float]:
        """A training step whose torch.compile failure (no C compiler, no Triton, ...) is one message
        naming the way round it, not a traceback from deep in the compiler."""
        try:
            return self.train_step(batch)
        except Exception as exc:
            if not (self.cfg.train.compile and _from_torch_compile(exc)):
                raise
            cause = getattr(exc, "inner_exception", None) or exc  # the backend's own error
            reason = f"{type(cause).__name__}: {(str(cause).strip().splitlines() or [''])[0][:300]}"
            way_round = "run without --set train.compile=true"
            if (self.run_dir / CHECKPOINT).is_file():
                way_round += f", or continue this run with --resume {self.run_dir} --set train.compile=false"
            raise ConfigError(f"torch.compile failed at step {self.step + 1} ({reason}); {way_round}") \
                from exc

    def _optimize(self, opt, losses: dict[str, torch.Tensor], total: str) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        losses[total].backward()  # DDP (when distributed) averages the gradients here
        opt.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    # ----------------------------------------------------------------- phases
    def run(self) -> RunSummary:
        """Train to the end (from wherever the state is) and return the run summary."""
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main, resumed_at=self.step)
        batches = self.batches()
        total = self.cfg.train.search_steps + self.cfg.train.finetune_steps if self.compress \
            else self.cfg.train.finetune_steps
        bar = tqdm(total=total, initial=self.step, desc=f"coronet {self.phase}", unit="step",
                   disable=not self.dist.is_main, dynamic_ncols=True, leave=False, mininterval=2.0)
        shown = self.phase
        try:
            with stop_requests() as stop:
                while self.phase != "done":
                    search_over = self._landed() or self.phase_step >= self.cfg.train.search_steps
                    if self.phase == "search" and search_over:
                        self._export()
                        bar.total = self.step + self.cfg.train.finetune_steps
                        continue
                    tuning = self.phase in ("finetune", "train")
                    if tuning and self.phase_step >= self.cfg.train.finetune_steps:
                        self._enter("done")
                        continue
                    self._one_step(next(batches))
                    bar.update(1)
                    if shown != self.phase:
                        shown = self.phase
                        bar.set_description(f"coronet {self.phase}")
                    if stop.requested:
                        self.save()
                        raise Interrupted(f"stopped at step {self.step} ({self.phase}) and checkpointed; "
                                          f"continue with `coronet compress --resume {self.run_dir}`")
        finally:
            bar.close()
            self.logger.close()
        return self.summary()

    def _one_step(self, batch: dict) -> None:
        start = time.perf_counter()
        values = self._train_step_or_explain(batch)
        self.timing[f"{self.phase}_s"] += time.perf_counter() - start
        self.step += 1
        self.phase_step += 1
        self.steps_done[self.phase] += 1
        self._watch(values)
        self._after_step(values)

    def _diverged(self, what: str) -> TrainingDiverged:
        kept = (f"the last finite checkpoint (step {self.saved_step}) stays in {self.run_dir}"
                if self.saved_step is not None else "no checkpoint was written")
        return TrainingDiverged(f"training diverged at step {self.step} ({self.phase}): {what}; {kept} and "
                                f"nothing was exported. Start again with a lower learning rate "
                                f"(--set train.lr=..., now {self.cfg.train.lr:g})")

    def _watch(self, values: dict[str, float]) -> None:
        """Stop on a non-finite loss; log a collapse warning (`health.Health`) once."""
        try:
            warning = self.health.check(self.step, losses_of(values))
        except TrainingDiverged as exc:
            raise self._diverged(str(exc)) from None
        if warning and self.dist.is_main:
            tqdm.write(f"coronet: warning: {warning}")
            self.logger.note(self.step, warning)

    def _check_finite(self) -> None:
        """Every weight finite, or the run stops (before a checkpoint or an export is written)."""
        bad = non_finite_weight({**self.generators, **self.discriminators})
        if bad is not None:
            raise self._diverged(f"{bad} holds NaN or infinite values")

    def _landed(self) -> bool:
        return all(ctl.landed for ctl in self.controllers.values())

    def _after_step(self, values: dict[str, float]) -> None:
        t = self.cfg.train
        if self.compress and self.phase == "search":
            point = {"step": self.step}
            for name, ctl in self.controllers.items():
                status = ctl.status()
                values[f"{self.cfg.prune.metric}_ratio/{name}"] = status.ratio
                values[f"tied_deaths/{name}"] = status.tied_deaths
                for group, width in status.widths.items():
                    if group in ctl.latents.vectors:
                        values[f"alive/{name}/{group}"] = width
                point[name] = status.ratio
            self.history.append(point)
        if self.step % t.log_every == 0 or self.step == 1:
            self.logger.scalars(self.step, values, self.phase)
        if t.sample_every and self.step % t.sample_every == 0 and self.dist.is_main:
            self.logger.image(self.step, "samples", self.sample_grid())
        if t.checkpoint_every and self.step % t.checkpoint_every == 0:
            self.save()
        for callback in self.callbacks:
            callback.on_step_end(self, values)

    def _enter(self, phase: str) -> None:
        self.phase, self.phase_step = phase, 0
        self.save()

    @torch.no_grad()
    def _export(self) -> None:
        """Search -> fine-tune: materialize each generator and check it against its hyper-model."""
        start = time.perf_counter()
        self._check_finite()
        for name in self.names:
            hyper = self.generators[name]
            # a search that ended before it landed (no search steps, or fewer than it needed) lands
            # now by the ranking: the exported model is never over the budget
            status = self.controllers[name].land_now()
            if not self.dist.same_on_all_ranks(status.widths):
                raise RuntimeError("pruning decisions differ between ranks")
            compact = materialize(hyper).to(self.device)
            x = self.sample_batch["B" if name == "G_B" else "A"].to(self.device)
            hyper.eval()
            compact.eval()
            diff = float((compact(x) - eager(hyper, x)).abs().max())
            compact.train()
            cost = self.cost_models[name]
            widths = compact.widths
            search = search_diagnostics(cost, widths, status.tied_deaths, status.deaths,
                                        self.cfg.prune.min_channels, self.cfg.prune.metric)
            self.handovers[name] = Handover(
                widths=widths, export_max_abs_diff=diff, macs=cost.macs(widths), params=cost.params(widths),
                achieved_ratio=status.ratio, forced_landing=status.forced, search_steps=self.phase_step,
                search=search)
            if self.dist.is_main:
                save_generator(compact, self.run_dir / "searched" / name)
            for callback in self.callbacks:
                compact = callback.on_handover(self, name, hyper, compact)
            self.generators[name] = compact.to(self.device)
        self.objective = self._objective()
        self.opt_G = self._generator_optimizer()
        self.timing["export_s"] += time.perf_counter() - start
        self._enter("finetune")

    # ----------------------------------------------------------------- outputs
    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        """Rows for the fixed sample images (uint8 HWC). Pix2Pix: input | output | target.
        CycleGAN (no target exists): input | translated | translated back by the other generator."""
        from coronet.data import to_uint8

        rows = []
        for name in self.names:
            src, tgt = ("B", "A") if name == "G_B" else ("A", "B")
            x = self.sample_batch[src].to(self.device)
            out = self._eval_output(name, x)
            if len(self.names) == 2:
                third = self._eval_output("G_A" if name == "G_B" else "G_B", out).cpu()
            else:
                third = self.sample_batch[tgt]
            out = out.cpu()
            for i in range(out.shape[0]):
                rows.append(np.concatenate([to_uint8(x[i]), to_uint8(out[i]), to_uint8(third[i])], axis=1))
        return np.concatenate(rows, axis=0)

    def _eval_output(self, name: str, x: torch.Tensor) -> torch.Tensor:
        g = self.generators[name]
        was = g.training
        g.eval()
        out = eager(g, x)
        g.train(was)
        return out

    def summary(self) -> RunSummary:
        """Where the run stands: its generators with their costs, budgets and hand-overs."""
        gens = {}
        for name, g in self.generators.items():
            cost = self.cost_models[name]
            ctl = self.controllers.get(name)
            dense = cost.dense_widths
            gens[name] = GeneratorSummary(
                generator=g, dense_macs=cost.macs(dense), dense_params=cost.params(dense),
                budget=ctl.budget if ctl else None, handover=self.handovers.get(name))
        return RunSummary(config=self.cfg, compress=self.compress, phase=self.phase, step=self.step,
                          timing=dict(self.timing), steps=dict(self.steps_done), generators=gens,
                          history=list(self.history), samples=self.sample_grid(),
                          warnings=list(self.health.warnings))

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        gens = {}
        for name, g in self.generators.items():
            kind = "hyper" if self.phase == "search" else ("compact" if self.compress else "dense")
            widths = g.widths() if kind == "hyper" else g.widths
            gens[name] = {"kind": kind, "widths": widths, "state": g.state_dict()}
        state = {
            "config": self.cfg.to_dict(), "compress": self.compress, "phase": self.phase,
            "step": self.step, "phase_step": self.phase_step, "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch, "train_items": len(self.train_set), "generators": gens,
            "discriminators": {n: d.state_dict() for n, d in self.discriminators.items()},
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "controllers": {n: c.state_dict() for n, c in self.controllers.items()},
            "pools": {n: p.state_dict() for n, p in self.pools.items()},
            "rng": torch.get_rng_state(), "timing": dict(self.timing),
            "steps_done": dict(self.steps_done), "history": list(self.history),
            "exports": {n: h.to_dict() for n, h in self.handovers.items()},
            "health": self.health.state_dict(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def save(self) -> None:
        self._check_finite()  # the checkpoint on disk stays the last finite one
        if self.dist.is_main:
            save_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())
        self.saved_step = self.step
        self.dist.barrier()

    @staticmethod
    def resumed_config(state: dict[str, Any], device: str | None = None, overrides: list[str] | None = None,
                       dataroot: str | None = None) -> RunConfig:
        """The config a checkpoint continues with: its own, with the device, the data's new place and
        the `overrides` of RESUME_SETTABLE keys (they change how the run executes, not what it
        computes); any other override is refused."""
        cfg = from_saved(state["config"])
        changes = {"train.device": device, "data.dataroot": dataroot}
        cfg = cfg.updated({k: v for k, v in changes.items() if v is not None})
        for item in overrides or []:
            key = item.split("=", 1)[0].strip()
            if "=" in item and key not in RESUME_SETTABLE:  # a malformed item: apply_overrides says so
                raise ConfigError(f"--resume continues a run with its saved config; --set {key} cannot "
                                  f"change there (only {', '.join(RESUME_SETTABLE)})")
        return apply_overrides(cfg, overrides or [])

    @classmethod
    def resume(cls, run_dir: str | Path, dist: DistContext | None = None, device: str | None = None,
               overrides: list[str] | None = None, callbacks: list[Callback] | None = None,
               dataroot: str | None = None) -> Trainer:
        """Continue a run from its checkpoint (`resumed_config` says what may change)."""
        run_dir = Path(run_dir)
        state = load_checkpoint(run_dir / CHECKPOINT)
        cfg = cls.resumed_config(state, device, overrides, dataroot)
        trainer = cls(cfg, run_dir, compress=state["compress"], dist=dist, callbacks=callbacks)
        saved_items = state.get("train_items")
        if dataroot is not None and saved_items is not None and saved_items != len(trainer.train_set):
            raise ConfigError(f"--dataroot {dataroot} holds {len(trainer.train_set)} training items; the run "
                              f"was trained on {saved_items}: point it at the same data")
        try:
            trainer.load_state_dict(state)
        except (KeyError, RuntimeError, TypeError, ValueError, IndexError) as exc:  # edited or foreign
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise CheckpointError(f"{run_dir / CHECKPOINT} does not hold the state of the run its config "
                                  f"describes ({type(exc).__name__}: {reason}); restore the checkpoint "
                                  f"this run wrote") from None
        return trainer

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.step, self.phase_step = state["phase"], state["step"], state["phase_step"]
        self.epoch, self.batch_in_epoch = state["epoch"], state["batch_in_epoch"]
        for name, ctl_state in state["controllers"].items():
            self.controllers[name].load_state_dict(ctl_state)
        if any(saved["kind"] != "hyper" for saved in state["generators"].values()):
            # compact after the search, or a plain model given to `use_generators`: same widths
            for name, saved in state["generators"].items():
                self.generators[name] = self.generators[name].spec.build(saved["widths"]).to(self.device)
            self.objective = self._objective()
            self._build_optimizers()
        for name, saved in state["generators"].items():
            self.generators[name].load_state_dict(saved["state"])
        for name, d_state in state["discriminators"].items():
            self.discriminators[name].load_state_dict(d_state)
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        for name, p_state in state["pools"].items():
            self.pools[name].load_state_dict(p_state)
        torch.set_rng_state(state["rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.timing.update(state["timing"])
        self.steps_done.update(state["steps_done"])
        self.history = list(state["history"])
        self.handovers = {n: Handover.from_dict(h) for n, h in state["exports"].items()}
        self.health.load_state_dict(state.get("health", {}))
        self.saved_step = self.step


def eager(generator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The generator's output without its compiled call (`train.compile`): `forward` bypasses it.
    Samples and the export check run in eval mode without gradients, which a compiled generator
    would compile again for, for a few calls."""
    return generator.forward(x)


def _from_torch_compile(exc: BaseException) -> bool:
    import torch._dynamo.exc as dynamo_exc

    return isinstance(exc, (dynamo_exc.TorchDynamoException, dynamo_exc.TritonUnavailableError))
