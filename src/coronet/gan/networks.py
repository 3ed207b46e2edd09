"""The networks a run trains, built from its config.

`coronet compress` trains hyper-generators, each with its cost model and budget controller, until
the search hands over compact ones. `coronet train` trains plain generators: the dense one (from
`model.init_from` when given) or, with `model.widths`, one at the widths of another generator file:
from scratch, or cut from `model.init_from` by filter magnitude. The baselines coronet is measured
against are such runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from coronet.config import RunConfig
from coronet.errors import CheckpointError, ConfigError
from coronet.gan.image_pool import ImagePool
from coronet.gan.objectives import CycleGANObjective, Objective, Pix2PixObjective
from coronet.gan.setup import generator_names
from coronet.models import (
    Generator,
    get_discriminator,
    get_generator,
    load_generator,
    load_reference_state_dict,
    read_generator_meta,
)
from coronet.pruning import (
    LATENCY_UNITS_PER_MS,
    Budget,
    BudgetController,
    BudgetTarget,
    ControllerConfig,
    CostModel,
    hypernetize,
    magnitude_prune,
    resolve_budget,
)


@dataclass
class Networks:
    generators: dict[str, nn.Module]  # hyper-generators during a search, plain ones otherwise
    cost_models: dict[str, CostModel]
    controllers: dict[str, BudgetController] = field(default_factory=dict)  # compress runs only


def build_networks(cfg: RunConfig, compress: bool, run_dir: Path | None = None) -> Networks:
    """The generators of a run with their cost models (and, to compress, their controllers; an
    impossible target is refused here, before any step). A relative `prune.latency_model` is a
    file of the run folder `run_dir`."""
    size = (cfg.data.crop_size, cfg.data.crop_size)
    nets = Networks({}, {})
    for name in generator_names(cfg):
        if not compress:
            g = plain_generator(cfg, name)
            nets.generators[name], nets.cost_models[name] = g, CostModel(g, size)
            continue
        if _source(cfg.model.widths, cfg.model.widths_B, name):
            raise ConfigError("model.widths trains a generator at given widths (`coronet train`); "
                              "`coronet compress` searches them")
        from_dense = bool(_source(cfg.model.init_from, cfg.model.init_from_B, name))
        dense = dense_generator(cfg, name)
        spec, widths = dense.spec.to_dict(), dense.widths
        hyper = hypernetize(dense, cfg.model.hypernet, cfg.model.embedding_dim,
                            init="dense" if from_dense else "scratch")
        cost = hyper.cost_model(size)
        add_latency(cfg, cost, spec, widths, run_dir)
        nets.controllers[name] = BudgetController(hyper.latents, cost, budgets_for(cfg, name, cost),
                                                  cfg.train.search.steps,
                                                  cfg.train.lr, controller_config(cfg))
        nets.generators[name], nets.cost_models[name] = hyper, cost
    return nets


def _source(own: str | None, for_B: str | None, name: str) -> str | None:
    return for_B if name == "G_B" else own


def generator_options(cfg: RunConfig) -> dict:
    """The keyword arguments of `get_generator` that the config sets, so that every generator a run
    builds (dense, or a baseline's thinner one) has the same norm and dropout."""
    m = cfg.model
    return {"ngf": m.ngf, "use_dropout": bool(m.use_dropout), **({"norm": m.norm} if m.norm else {})}


def dense_generator(cfg: RunConfig, which: str) -> Generator:
    m = cfg.model
    g = get_generator(m.netG, **generator_options(cfg))
    source = _source(m.init_from, m.init_from_B, which)
    if source and Path(source).suffix in (".safetensors", ".json"):  # exported by `coronet train`
        trained = load_generator(source)
        if trained.spec.name != g.spec.name or trained.widths != g.widths:
            raise ConfigError(f"{source} is a {trained.spec.name} with widths {trained.widths}; "
                              f"--init-from needs a dense {g.spec.name} like --netG/--ngf describe")
        g.load_state_dict(trained.state_dict())
    elif source:
        load_reference_state_dict(g, source)
    return g


def plain_generator(cfg: RunConfig, which: str) -> Generator:
    """The dense generator, or one at the widths of the generator file `model.widths` names:
    from scratch, or `model.init_from` keeping its channels of largest filter L1 norm."""
    dense = dense_generator(cfg, which)
    source = _source(cfg.model.widths, cfg.model.widths_B, which)
    if not source:
        return dense
    widths = read_generator_meta(source).get("widths")
    if not isinstance(widths, dict) or set(widths) != set(dense.widths) or any(
            not isinstance(w, int) or not 1 <= w <= dense.widths[k] for k, w in widths.items()):
        raise ConfigError(f"{source} gives widths for another generator than --netG {cfg.model.netG} "
                          f"--ngf {cfg.model.ngf} (model.widths takes a generator file of the same layout)")
    if _source(cfg.model.init_from, cfg.model.init_from_B, which):
        return magnitude_prune(dense, widths)
    return dense.spec.build(widths)


def discriminators(cfg: RunConfig) -> dict[str, nn.Module]:
    """Fresh discriminators, or those of the run checkpoint `model.init_D_from` names."""
    m = cfg.model
    names, channels = (("D",), 6) if cfg.train.model == "pix2pix" else (("D_A", "D_B"), 3)
    nets = {name: get_discriminator(m.netD, input_nc=channels, ndf=m.ndf, norm=m.normD) for name in names}
    if m.init_D_from:
        from coronet.gan.checkpoint import load_checkpoint

        saved = load_checkpoint(m.init_D_from).get("discriminators", {})
        try:
            for name, d in nets.items():
                d.load_state_dict(saved[name])
        except (KeyError, RuntimeError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise CheckpointError(f"{m.init_D_from} holds no discriminators for this run ({reason}); "
                                  f"give the checkpoint of a run with the same model and --ndf") from None
    return nets


def objective(cfg: RunConfig, generators: dict[str, nn.Module], discs: dict[str, nn.Module],
              pools: dict[str, ImagePool], judges: dict[str, nn.Module] | None = None) -> Objective:
    """`generators`/`discs` are what trains (DDP wrappers when distributed); `judges` the plain
    discriminators that score fakes in the generator loss."""
    t = cfg.train
    judges = judges or discs
    if t.model == "pix2pix":
        return Pix2PixObjective(generators["G_A"], discs["D"], t.gan_mode, t.lambda_L1, judges["D"])
    return CycleGANObjective(generators["G_A"], generators["G_B"], discs["D_A"], discs["D_B"],
                             pools["A"], pools["B"], t.gan_mode, t.lambda_cycle, t.lambda_cycle,
                             t.lambda_identity, judges["D_A"], judges["D_B"])


def budget_for(cfg: RunConfig, which: str, cost_model: CostModel) -> Budget:
    """G_A's target is `prune.ratio` or `prune.absolute`; G_B has its own when `ratio_B` or
    `absolute_B` is set, else the same."""
    p = cfg.prune
    if which == "G_B" and (p.ratio_B is not None or p.absolute_B is not None):
        ratio, absolute = (p.ratio_B, None) if p.absolute_B is None else (None, p.absolute_B)
    else:
        ratio, absolute = (p.ratio, None) if p.absolute is None else (None, p.absolute)
    if p.metric == "latency" and absolute is not None:
        absolute *= LATENCY_UNITS_PER_MS  # the target is in milliseconds
    target = BudgetTarget(p.metric, ratio=ratio, absolute=absolute)
    return resolve_budget(target, cost_model, p.min_channels, p.tolerance)


def budgets_for(cfg: RunConfig, which: str, cost_model: CostModel) -> list[Budget]:
    """The budgets one search lands on, largest first: those of `prune.also` (forked on the way,
    each a target of the same kind as the run's own), then the run's own."""
    p = cfg.prune
    if p.also and (p.ratio_B is not None or p.absolute_B is not None):
        raise ConfigError("several targets apply to both CycleGAN generators: leave prune.ratio_B and "
                          "prune.absolute_B unset")
    own = budget_for(cfg, which, cost_model)
    kind = "prune.ratio" if p.absolute is None else "prune.absolute"
    forks = [budget_for(cfg.updated({kind: value}), which, cost_model)
             for value in sorted(p.also, reverse=True)]
    if any(b.limit <= own.limit for b in forks) or len({b.limit for b in forks}) < len(forks):
        given = ", ".join(f"{v:g}" for v in p.also)
        raise ConfigError(f"prune.also takes targets larger than the run's own "
                          f"({getattr(p, kind.split('.')[1]):g}) and each once (got {given})")
    return [*forks, own]


def check_budgets(cfg: RunConfig) -> None:
    """Refuse a target no network of this layout can meet, before any data is read (what the run
    would refuse at its start; `--dry-run` checks it too)."""
    size = (cfg.data.crop_size, cfg.data.crop_size)
    for name in generator_names(cfg):
        dense = get_generator(cfg.model.netG, **generator_options(cfg))
        cost = CostModel(dense, size)
        add_latency(cfg, cost, dense.spec.to_dict(), dense.widths)
        budgets_for(cfg, name, cost)


def add_latency(cfg: RunConfig, cost: CostModel, spec: dict, widths: dict[str, int],
                run_dir: Path | None = None) -> None:
    """For a latency target, give `cost` the latency form of the measured model `prune.latency_model`
    (`coronet.deploy.latency_model`), refused if it was measured for another generator or size."""
    p = cfg.prune
    if p.metric != "latency":
        return
    if not p.latency_model:
        raise ConfigError("prune.metric=latency needs prune.latency_model, a latency model measured for "
                          "this generator; `coronet compress --target-latency MS` measures it")
    path = Path(p.latency_model)
    path = run_dir / path if run_dir is not None and not path.is_absolute() else path
    try:
        model = json.loads(path.read_text())
        key, weights = model["key"], model["weights"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"prune.latency_model {path} is not a readable latency model "
                          f"({type(exc).__name__}); remove the setting to measure one") from None
    plain = json.loads(json.dumps({"generator": spec, "widths": widths, "input_size": list(cost.input_size)}))
    if any(key.get(k) != v for k, v in plain.items()):
        raise ConfigError(f"prune.latency_model {path} was measured for another generator or input size "
                          f"({key.get('generator')}, {key.get('input_size')}); measure one for this run")
    cost.add_form("latency", {part: LATENCY_UNITS_PER_MS / 1000 * w for part, w in weights.items()})  # w: µs


def controller_config(cfg: RunConfig) -> ControllerConfig:
    p = cfg.prune
    return ControllerConfig(min_channels=p.min_channels, reach_fraction=p.reach_fraction, shrink=p.shrink,
                            importance_decay=p.importance_decay)
