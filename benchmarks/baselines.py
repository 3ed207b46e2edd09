"""coronet against its baselines at the same MACs: same data, iterations and settings.

Pix2Pix on edges2shoes-mini (ResNet-9 ngf 32, 128x128). Rows, per target ratio of the generator
MACs (by default 10%, 5% and 2.5%, the published systems' budgets):
  coronet    one run: search (hypernetwork + proximal pruning to the target) -> fine-tune
  uniform    every group thinned by the same factor to the same MACs, trained from scratch for as
             many steps as the coronet run took (search + fine-tune)
  magnitude  the trained dense model, each group cut to the uniform widths keeping the filters of
             largest L1 norm (Li et al. 2017), then fine-tuned as long as coronet fine-tunes (its
             discriminator continues from the dense run's, as coronet's does)
and once: dense, trained as long as the longest coronet run.

    python benchmarks/baselines.py --seed N    # N = 0..3: results/baselines_edges2shoes[_seedN].json
    python benchmarks/baselines.py --search-steps 20 --finetune-steps 10 --out /tmp/b.json  # quick look
    python benchmarks/baselines.py --set train.hyper_lr_scale=0.1   # any config field

Quality: PSNR / SSIM / L1 on the 30 validation pairs. Finished rows are kept in --work, so a rerun
after a crash trains only what is missing. With two seeds or more in results/, it writes the table
quality-extreme.md: coronet minus each baseline, paired seed by seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import torch

from common import (
    METRICS,
    RESULTS,
    cell,
    environment,
    load,
    paired_difference,
    seed_files,
    source,
    table,
    write_result,
)
from coronet.config import RunConfig, apply_overrides
from coronet.eval import count_macs, count_params
from coronet.eval.paired import paired_metrics
from coronet.gan import RunSummary, Trainer, networks, setup
from coronet.gan.checkpoint import save_checkpoint
from coronet.models import get_generator, load_generator, save_generator
from coronet.pruning import CostModel
from coronet.pruning.baselines import uniform_widths

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BASELINES = ("uniform", "magnitude")


def config(args, steps: int | None = None, ratio: float | None = None) -> RunConfig:
    cfg = RunConfig().updated({
        "data.dataroot": str(args.data), "data.load_size": args.size, "data.crop_size": args.size,
        "data.preprocess": "resize", "data.flip": False, "data.batch_size": args.batch,
        "model.netG": "resnet_9blocks", "model.ngf": args.ngf, "model.ndf": 64,
        "train.model": args.model, "train.seed": args.seed, "train.gan_mode": "hinge",
        "train.search": args.search_steps,
        "train.finetune": steps if steps is not None else args.finetune_steps,
        "train.decay": args.finetune_steps // 2,
        "train.log_every": 50, "train.sample_every": 0, "train.checkpoint_every": 0, "prune.ratio": ratio})
    return setup.resolve_defaults(apply_overrides(cfg, args.set))


Trained = tuple[RunSummary, dict[str, dict], float]  # the run, its discriminators' states, seconds


def train(cfg: RunConfig, compress: bool) -> Trained:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), compress=compress)
        start = time.perf_counter()
        summary = trainer.run()
        wall = time.perf_counter() - start
        return summary, {n: d.state_dict() for n, d in trainer.discriminators.items()}, wall


def row_dir(args, row: str) -> Path:
    return args.work / row


def saved_row(args, row: str) -> dict | None:
    path = row_dir(args, row) / "row.json"
    return json.loads(path.read_text()) if path.is_file() else None


def save_row(args, row: str, trained: Trained, extra: dict) -> dict:
    summary, discriminators, wall = trained
    out = row_dir(args, row)
    out.mkdir(parents=True, exist_ok=True)
    size = (args.size, args.size)
    gens = {}
    for name, run_g in summary.generators.items():
        g = run_g.generator
        save_generator(g.cpu().eval(), out / name)
        macs = count_macs(g, size)
        gens[name] = {"macs": macs, "params": count_params(g), "achieved_ratio": macs / run_g.dense_macs,
                      "widths": g.widths}
        if run_g.handover is not None:  # a coronet row: did its search choose the widths?
            gens[name]["search"] = run_g.handover.search
    save_checkpoint(out / "discriminators.pt", {"discriminators": discriminators})  # model.init_D_from
    steps = sum(summary.steps.values())
    result = {"row": row, "generators": gens, "steps": steps, "steps_by_phase": summary.steps,
              "train_wall_s": wall, "timing": summary.timing, **extra}
    (out / "row.json").write_text(json.dumps(result, indent=2) + "\n")
    ratios = ", ".join(f"{n} {g['achieved_ratio']:.4f}" for n, g in gens.items())
    print(f"{row}: {steps} steps, {wall:.0f} s, ratio {ratios}", flush=True)
    return result


def dense_row(args, steps: int) -> dict:
    """The dense row of --work, trained for `steps` first if it is not there."""
    if (dense := saved_row(args, "dense")) is None:
        dense = save_row(args, "dense", train(config(args, steps=steps), compress=False),
                         {"method": "dense", "target": 1.0})
    return dense


def uniform_row_widths(cfg: RunConfig, ratio: float) -> dict[str, dict[str, int]]:
    """Each generator's groups thinned alike to `ratio` of its dense MACs: the uniform row's widths
    (and the ones magnitude pruning cuts to). They depend on the architecture only."""
    size = (cfg.data.crop_size, cfg.data.crop_size)
    costs = {n: CostModel(networks.dense_generator(cfg, n), size) for n in setup.generator_names(cfg)}
    return {n: uniform_widths(c, int(ratio * c.macs(c.dense_widths)), cfg.prune.min_channels)
            for n, c in costs.items()}


def at_widths(args, cfg: RunConfig, widths: dict[str, dict[str, int]], row: str) -> RunConfig:
    """`cfg` training its generators at `widths` (`model.widths`: generator files of those widths,
    written to --work): from scratch, or cut from `model.init_from` by filter magnitude."""
    changes = {}
    for name, w in widths.items():
        path = save_generator(get_generator(cfg.model.netG, widths=w, **networks.generator_options(cfg)),
                              args.work / "widths" / f"{row}_{name}")
        changes["model.widths_B" if name == "G_B" else "model.widths"] = str(path)
    return cfg.updated(changes)


def magnitude_config(args, widths: dict[str, dict[str, int]], row: str) -> RunConfig:
    """The dense row cut to `widths` by filter L1 norm, fine-tuned for the fine-tune steps with the
    dense row's discriminators going on."""
    dense = row_dir(args, "dense")
    cfg = config(args, steps=args.finetune_steps).updated({
        "model.init_from": str(dense / "G_A.safetensors"),
        "model.init_D_from": str(dense / "discriminators.pt")})
    return at_widths(args, cfg, widths, row)


def run_rows(args) -> list[dict]:
    rows = []
    for ratio in args.targets:
        name = f"coronet@{ratio}"
        if (r := saved_row(args, name)) is None:
            r = save_row(args, name, train(config(args, ratio=ratio), compress=True),
                         {"method": "coronet", "target": ratio})
        rows.append(r)
    dense = dense_row(args, max(r["steps"] for r in rows))
    rows.append(dense)
    for ratio, coronet in zip(args.targets, rows, strict=False):
        cfg = config(args, steps=coronet["steps"])
        widths = uniform_row_widths(cfg, ratio)
        name = f"uniform@{ratio}"
        if (r := saved_row(args, name)) is None:
            trained = train(at_widths(args, cfg, widths, name), compress=False)
            r = save_row(args, name, trained, {"method": "uniform", "target": ratio})
        rows.append(r)
        name = f"magnitude@{ratio}"
        if (r := saved_row(args, name)) is None:
            trained = train(magnitude_config(args, widths, name), compress=False)
            r = save_row(args, name, trained, {"method": "magnitude", "target": ratio,
                                               "train_wall_s_incl_dense": trained[2] + dense["train_wall_s"]})
        rows.append(r)
    return rows


# ---------------------------------------------------------------------------- quality
def quality(args, rows: list[dict]) -> None:
    """PSNR / SSIM / L1 of each row's generator on the validation pairs."""
    _, test = setup.make_datasets(config(args))
    loader = torch.utils.data.DataLoader(test, batch_size=8)
    for r in rows:
        r["metrics"] = paired_metrics(load_generator(row_dir(args, r["row"]) / "G_A.json"), loader)
        print(r["row"], r["metrics"], flush=True)


# ---------------------------------------------------------------------------- the table


def paired_over_seeds(runs: list[dict], row: str, other: str) -> dict:
    """Per metric, row minus other, paired seed by seed (a seed fixes data order and initialisation
    for every row, so the difference removes the spread they share)."""
    by_seed = [{r["row"]: r["metrics"] for r in run["rows"]} for run in runs]
    return {k: paired_difference([m[row][k] - m[other][k] for m in by_seed]) for k in METRICS}


def quality_table(stem: str = "baselines_edges2shoes") -> list[str]:
    names = seed_files(stem)
    runs = [load(n) for n in names]
    rows = []
    for target in ("0.1", "0.05", "0.025"):
        pct = f"{float(target):.1%}".replace(".0%", "%")
        pairs = [(b, paired_over_seeds(runs, f"coronet@{target}", f"{b}@{target}")) for b in BASELINES]
        pairs.append(("*resolution: dense − uniform*", paired_over_seeds(runs, "dense", f"uniform@{target}")))
        rows += [[label, pct, str(len(runs))] + [cell(d[k], k) for k in METRICS] for label, d in pairs]
    return table(["coronet minus", "target", "seeds", "ΔPSNR", "ΔSSIM", "ΔL1"], rows) + [
        "", f"Sources: {source(*names)}."]


TABLES = {"quality-extreme": quality_table}


def arguments() -> argparse.Namespace:
    """The benchmark's options, resolved to the work folder of trained rows."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--targets", type=float, nargs="+", default=[0.1, 0.05, 0.025])
    p.add_argument("--search-steps", type=int, default=300)
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0, help="training seed of every row (run-to-run spread)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field for every row, e.g. train.hyper_lr_scale=0.1 (repeatable; the "
                        "search's own fields change only the coronet rows)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=DATA / "edges2shoes-mini")
    p.add_argument("--work", type=Path, help="where trained rows are kept (default: a folder in /tmp)")
    p.add_argument("--out", type=Path, help="default: benchmarks/results/baselines_edges2shoes[_seedN].json")
    args = p.parse_args()
    args.model, args.batch = "pix2pix", 2
    seed_tag = f"_seed{args.seed}" if args.seed else ""
    args.out = args.out or RESULTS / f"baselines_edges2shoes{seed_tag}.json"
    settings = hashlib.sha256("\n".join(args.set).encode()).hexdigest()[:8] if args.set else "default"
    tag = f"{args.size}-{args.ngf}-{args.search_steps}-{args.finetune_steps}-{settings}{seed_tag}"
    args.work = args.work or Path(tempfile.gettempdir()) / "coronet-baselines" / tag
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} not found: give the dataset folder with --data")
    config(args)  # a wrong --set fails now, not after an hour of training
    torch.set_num_threads(args.threads)
    return args


def main() -> None:
    args = arguments()
    rows = run_rows(args)
    quality(args, rows)
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    enough_seeds = len(set(seed_files("baselines_edges2shoes")) | {args.out.name}) >= 2
    write_result(args.out, {"benchmark": "baselines_edges2shoes", "config": config_out,
                            "environment": environment(), "rows": rows},
                 TABLES if args.out.name.startswith("baselines_edges2shoes") and enough_seeds else None)


if __name__ == "__main__":
    main()
