"""The training loop behind `coronet compress` and `coronet train`.

A run goes through the phases of its plan (`progress.PLANS`): compress searches (hyper-generators;
after every generator step each budget controller ranks the channels and removes the weakest per
MAC), exports (plain compact generators, checked against the masked hyper-models) and fine-tunes
them; train trains plain generators once. With several targets the search saves each landing but
the last as a run folder of its own (`_fork`) and goes on. One step: the objective makes its
fakes, updates its sides in its own order, and during the search the controllers step. Every
`checkpoint_every` steps and at every phase change the whole state is checkpointed atomically;
`Trainer.resume` continues bit-for-bit on the CPU with deterministic settings. Code outside the
loop extends it through `Callback`s (`coronet.gan.hooks`) and reads its result from the
`RunSummary` of `run()`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from coronet.config import RunConfig
from coronet.errors import CheckpointError, ConfigError
from coronet.files import atomic_write
from coronet.gan import networks, setup
from coronet.gan.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from coronet.gan.distributed import DistContext
from coronet.gan.handover import hand_over
from coronet.gan.health import Health, TrainingDiverged, losses_of, non_finite_weight
from coronet.gan.hooks import Callback
from coronet.gan.image_pool import ImagePool
from coronet.gan.logger import RunLogger
from coronet.gan.progress import PLANS, Progress, training_batches
from coronet.gan.resume import resumed_config
from coronet.gan.samples import fixed_batch, sample_grid
from coronet.gan.schedule import learning_rate
from coronet.gan.stopping import Interrupted, stop_requests
from coronet.gan.summary import GeneratorSummary, Handover, RunSummary
from coronet.models import save_generator
from coronet.pruning import HyperGenerator, lr_groups


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
        per_epoch = setup.steps_per_epoch(len(self.train_set), cfg.data.batch_size, self.dist.world)
        self.cfg = cfg = setup.steps_from_epochs(cfg, per_epoch)
        nets = networks.build_networks(cfg, compress, self.run_dir)
        self.generators, self.cost_models = nets.generators, nets.cost_models
        self.controllers = nets.controllers
        self.names = tuple(self.generators)
        self.discriminators = networks.discriminators(cfg)
        self.pools = {side: ImagePool(cfg.train.pool_size, seed=cfg.train.seed + i)
                      for i, side in enumerate("AB")}
        for module in [*self.generators.values(), *self.discriminators.values()]:
            module.to(self.device)
        self._views: dict[str, nn.Module] = {}
        self.objective = self._objective()
        self.opt_G, self.opt_D = self._generator_optimizer(), self._adam(
            [p for d in self.discriminators.values() for p in d.parameters()])
        self.progress = Progress(PLANS[compress][0])
        self.handovers: dict[str, Handover] = {}
        self.health = Health()
        self.logger: RunLogger | None = None
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.sample_batch = fixed_batch(self.test_set)

    @property
    def phase(self) -> str:
        return self.progress.phase

    @property
    def step(self) -> int:
        return self.progress.step

    # ----------------------------------------------------------------- the loop
    def run(self) -> RunSummary:
        """Go through the phases of the plan (from wherever the state is) and return the summary."""
        self.logger = RunLogger(self.run_dir, enabled=self.dist.is_main, resumed_at=self.step)
        batches = self.batches()
        bar = tqdm(total=self._planned_steps(), initial=self.step, desc=f"coronet {self.phase}", unit="step",
                   disable=not self.dist.is_main, dynamic_ncols=True, leave=False, mininterval=2.0)
        try:
            with stop_requests() as stop:
                while self.phase != "done":
                    if self._phase_over():
                        self._next_phase()
                        bar.total = self._planned_steps()
                        bar.set_description(f"coronet {self.phase}")
                        continue
                    self._one_step(next(batches))
                    bar.update(1)
                    if stop.requested:
                        self.save()
                        raise Interrupted(f"stopped at step {self.step} ({self.phase}) and checkpointed; "
                                          f"continue with `coronet compress --resume {self.run_dir}`")
        finally:
            bar.close()
            self.logger.close()
        return self.summary()

    def _phase_length(self, phase: str) -> int:
        t = self.cfg.train
        return {"search": t.search.steps, "finetune": t.finetune.steps, "train": t.finetune.steps,
                "done": 0}[phase]

    def _phase_over(self) -> bool:
        """The search is over when every controller landed on its last budget or the step budget is
        spent; a landing on an earlier one (`prune.also`) is forked, and the search goes on."""
        landed = self.phase == "search" and all(c.landed for c in self.controllers.values())
        while landed and any(c.has_next for c in self.controllers.values()):
            self._fork()
            for ctl in self.controllers.values():
                ctl.next_budget()
            landed = all(c.landed for c in self.controllers.values())
        more = self.phase == "search" and any(c.has_next for c in self.controllers.values())
        return landed or (self.progress.phase_step >= self._phase_length(self.phase) and not more)

    def _next_phase(self) -> None:
        if self.phase == "search":
            self._export()
        plan = PLANS[self.compress]
        self.progress.phase, self.progress.phase_step = plan[plan.index(self.phase) + 1], 0
        self.save()

    def _planned_steps(self) -> int:
        plan = PLANS[self.compress]
        later = sum(self._phase_length(p) for p in plan[plan.index(self.phase) + 1:])
        return self.step + max(self._phase_length(self.phase) - self.progress.phase_step, 0) + later

    def batches(self):
        """Endless training batches from the run's place in the data (`progress.training_batches`)."""
        return training_batches(self.train_set, self.cfg.data.batch_size, self.cfg.data.num_workers,
                                self.cfg.train.seed, self.progress, self.dist.rank, self.dist.world)

    def _one_step(self, batch: dict) -> None:
        start = time.perf_counter()
        values = self._train_step_or_explain(batch)
        self.progress.count_step(time.perf_counter() - start)
        self._watch(values)
        if self.phase == "search":
            values.update(self._search_scalars())
        t = self.cfg.train
        if self.step % t.log_every == 0 or self.step == 1:
            self.logger.scalars(self.step, values, self.phase)
        if t.sample_every and self.step % t.sample_every == 0 and self.dist.is_main:
            self.logger.image(self.step, "samples", self.sample_grid())
        if t.checkpoint_every and self.step % t.checkpoint_every == 0:
            self.save()
        for callback in self.callbacks:
            callback.on_step_end(self, values)

    # ----------------------------------------------------------------- one step
    def train_step(self, batch: dict) -> dict[str, float]:
        """One update of each side, in the objective's order, then (during the search) the
        controllers' ranking and deaths; returns the step's scalars. `run()` calls it; benchmarks may
        call it alone (it does not count or checkpoint the step)."""
        batch = {k: v.to(self.device) for k, v in batch.items() if torch.is_tensor(v)}
        t = self.cfg.train
        lr = learning_rate(t.lr, self.phase, self.progress.phase_step, self._phase_length(self.phase),
                           t.decay.steps)
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
        losses: dict[str, float] = {}
        with ExitStack() as once:  # each hyper-generator's kernels generated once for the step
            for generator in self.generators.values():
                if isinstance(generator, HyperGenerator):
                    once.enter_context(generator.reusing_kernels())
            fakes = self.objective.forward(batch)
            for side in self.objective.update_order:
                step_losses = self.objective.losses(side, batch, fakes)
                opt = self.opt_G if side == "G" else self.opt_D
                opt.zero_grad(set_to_none=True)
                step_losses[side].backward()  # DDP (when distributed) averages the gradients here
                opt.step()
                losses.update({k: float(v.detach()) for k, v in step_losses.items()})
        if self.phase == "search":
            for ctl in self.controllers.values():
                ctl.step(lr)
        return {**{f"loss/{k}": v for k, v in losses.items()}, "lr": lr}

    def _search_scalars(self) -> dict[str, float]:
        """Each controller's cost ratio, tie-decided deaths and widths, logged and kept in history."""
        values, point = {}, {"step": self.step}
        for name, ctl in self.controllers.items():
            status = ctl.status()
            values[f"{self.cfg.prune.metric}_ratio/{name}"] = status.ratio
            values[f"tied_deaths/{name}"] = status.tied_deaths
            for group, width in status.widths.items():
                if group in ctl.latents.vectors:
                    values[f"alive/{name}/{group}"] = width
            point[name] = status.ratio
        self.progress.history.append(point)
        return values

    # ----------------------------------------------------------------- building blocks
    def _objective(self):
        """The objective over the modules to train through (DDP wrappers when distributed)."""
        def wrap(name: str, module: nn.Module) -> nn.Module:  # one DDP wrapper per module, ever
            view = self._views.get(name)
            if view is None or getattr(view, "module", view) is not module:
                if self.cfg.train.compile and name in self.generators:
                    module.compile()  # in place: state-dict keys and checkpoints stay the same
                self._views[name] = view = self.dist.wrap(module)
            return view

        return networks.objective(self.cfg, {n: wrap(n, g) for n, g in self.generators.items()},
                                  {n: wrap(n, d) for n, d in self.discriminators.items()}, self.pools,
                                  judges=self.discriminators)

    def _adam(self, params) -> torch.optim.Optimizer:
        t = self.cfg.train
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, 0.999), fused=fused)

    def _generator_optimizer(self) -> torch.optim.Optimizer:
        """Adam over the generators; the hypernetworks' parameters at `hyper_lr_scale` x lr."""
        return self._adam(lr_groups(self.generators.values(), self.cfg.train.hyper_lr_scale))

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

    # ----------------------------------------------------------------- health
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

    # ----------------------------------------------------------------- search -> fine-tune
    def _export(self) -> None:
        """Hand each hyper-generator over to its compact generator, which fine-tunes with fresh Adam."""
        start = time.perf_counter()
        self._check_finite()
        for name in self.names:
            hyper = self.generators[name]
            x = self.sample_batch["B" if name == "G_B" else "A"].to(self.device)
            compact, record = hand_over(hyper, self.controllers[name], self.cost_models[name], x,
                                        self.progress.phase_step, self.cfg.prune.min_channels)
            if not self.dist.same_on_all_ranks(record.widths):
                raise RuntimeError("pruning decisions differ between ranks")
            self.handovers[name] = record
            if self.dist.is_main:
                save_generator(compact, self.run_dir / "searched" / name)
            for callback in self.callbacks:
                compact = callback.on_handover(self, name, hyper, compact)
            self.generators[name] = compact.to(self.device)
        self.objective = self._objective()
        self.opt_G = self._generator_optimizer()
        self.progress.timing["export_s"] += time.perf_counter() - start

    def _fork(self) -> None:
        """Save the run of the budget just landed on as a run folder of its own (`fork_folder`), its
        checkpoint this state with that budget as its only one: resumed, it exports and fine-tunes
        that budget's generator while this search goes on to the next."""
        stage = next(iter(self.controllers.values())).stage
        value = sorted(self.cfg.prune.also, reverse=True)[stage]
        kind = "prune.ratio" if self.cfg.prune.absolute is None else "prune.absolute"
        folder = fork_folder(self.run_dir, self.cfg.prune.metric, value)
        cfg = self.cfg.updated({kind: value, "prune.also": ()})
        state = self.state_dict()
        state["config"] = cfg.to_dict()
        for ctl_state in state["controllers"].values():
            ctl_state["stage"] = 0
        if self.dist.is_main:
            if cfg.prune.latency_model and not Path(cfg.prune.latency_model).is_absolute():
                text = (self.run_dir / cfg.prune.latency_model).read_text()
                atomic_write(folder / cfg.prune.latency_model, lambda tmp: tmp.write_text(text))
            save_checkpoint(folder / CHECKPOINT, state)
        self.dist.barrier()

    # ----------------------------------------------------------------- outputs
    def sample_grid(self):
        return sample_grid(self.generators, self.sample_batch, self.device)

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
        p = self.progress
        return RunSummary(config=self.cfg, compress=self.compress, phase=p.phase, step=p.step,
                          timing=dict(p.timing), steps=dict(p.steps_done), generators=gens,
                          history=list(p.history), samples=self.sample_grid(),
                          warnings=list(self.health.warnings))

    # ----------------------------------------------------------------- what is saved and restored
    def state_dict(self) -> dict[str, Any]:
        """The whole state of the run: its progress, every network, optimiser, controller and image
        pool, the random state, the hand-overs and the health record."""
        gens = {}
        for name, g in self.generators.items():
            hyper = isinstance(g, HyperGenerator)
            kind = "hyper" if hyper else ("compact" if self.compress else "dense")
            gens[name] = {"kind": kind, "widths": g.widths() if hyper else g.widths, "state": g.state_dict()}
        state = {
            "config": self.cfg.to_dict(), "compress": self.compress, **self.progress.state_dict(),
            "train_items": len(self.train_set), "generators": gens,
            "discriminators": {n: d.state_dict() for n, d in self.discriminators.items()},
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "controllers": {n: c.state_dict() for n, c in self.controllers.items()},
            "pools": {n: p.state_dict() for n, p in self.pools.items()},
            "rng": torch.get_rng_state(), "exports": {n: h.to_dict() for n, h in self.handovers.items()},
            "health": self.health.state_dict(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.progress.load_state_dict(state)
        for name, ctl_state in state["controllers"].items():
            self.controllers[name].load_state_dict(ctl_state)
        if any(saved["kind"] != "hyper" for saved in state["generators"].values()):
            # compact after the search: the same architecture at the saved widths
            for name, saved in state["generators"].items():
                self.generators[name] = self.generators[name].spec.build(saved["widths"]).to(self.device)
            self.objective = self._objective()
            self.opt_G = self._generator_optimizer()
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
        self.handovers = {n: Handover.from_dict(h) for n, h in state["exports"].items()}
        self.health.load_state_dict(state.get("health", {}))
        self.saved_step = self.step

    def save(self) -> None:
        self._check_finite()  # the checkpoint on disk stays the last finite one
        if self.dist.is_main:
            save_checkpoint(self.run_dir / CHECKPOINT, self.state_dict())
        self.saved_step = self.step
        self.dist.barrier()

    @classmethod
    def resume(cls, run_dir: str | Path, dist: DistContext | None = None, device: str | None = None,
               overrides: list[str] | None = None, callbacks: list[Callback] | None = None,
               dataroot: str | None = None) -> Trainer:
        """Continue a run from its checkpoint (`resume.resumed_config` says what may change)."""
        run_dir = Path(run_dir)
        state = load_checkpoint(run_dir / CHECKPOINT)
        cfg = resumed_config(state, device, overrides, dataroot)
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


def fork_folder(run_dir: Path, metric: str, value: float) -> Path:
    """Where a run keeps the run of one of its `prune.also` targets: `RUN/targets/macs0.25`."""
    return Path(run_dir) / "targets" / f"{metric}{value:g}"


def _from_torch_compile(exc: BaseException) -> bool:
    import torch._dynamo.exc as dynamo_exc

    return isinstance(exc, (dynamo_exc.TorchDynamoException, dynamo_exc.TritonUnavailableError))
