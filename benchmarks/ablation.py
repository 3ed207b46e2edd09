"""Every part of the method measured for what it buys: the hypernetwork's form x the L1 step.

Variants: the form {lean, dhp} (`model.hypernet`) x the paper's proximal L1 step {on, off}
(`prune.shrink` 0.3 / 0), and the lean form at DHP's pace: one Adam step moves a DHP kernel 2.7x
(from scratch) to 3.4x (from a dense model) as far as a lean one at the same learning rate
(`pace.py`), so `lean3` trains the lean hypernetwork at PACE x DHP's `train.hyper_lr_scale` (1.0 from
scratch, 0.1 from a dense model; every variant pins its scale). The summary names the variant the
product runs by default in each scenario.
Sections, one seed per call; finished rows are kept in --work, so a rerun trains only what is
missing:

  planted  the planted architecture (planted.py): every variant searches from the teacher; the
           oracle and uniform rows are trained once per seed and shared
  scratch  edges2shoes-mini from scratch at 5% and 2.5% of the MACs (Pix2Pix, ResNet-9 ngf 32,
           128x128, search <= 300 + 300 fine-tuning steps): every variant, uniform widths trained
           from scratch as long, and the dense model (the resolution row)
  trained  the scenario users come with: a dense generator trained for --dense-steps (once, seed 0,
           shared by every seed) made small at 10% and 5%: every variant from it (`--init-from`);
           the trained model magnitude-pruned to uniform widths and to the widths the reference
           variant (lean+l1) found, each fine-tuned; uniform widths from scratch. Every row trains as
           many steps in all as the reference's run (search + fine-tuning); every discriminator
           starts fresh, as `--init-from` gives only the generator
  summary  every seed's rows of results/ aggregated (paired differences over seeds) into the tables
           ablation.md and from-trained.md

Paired metrics (PSNR / SSIM / L1) on the 30 validation pairs and on the first 30 training pairs
(fitting against generalising).

    python benchmarks/ablation.py planted --seed 0
    python benchmarks/ablation.py scratch --seed 0 --threads 1
    python benchmarks/ablation.py trained --seed 0
    python benchmarks/ablation.py summary
    python benchmarks/ablation.py scratch --seed 0 --search-steps 20 --finetune-steps 10 --work /tmp/q
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import statistics
import tempfile
from pathlib import Path

import torch

import baselines as B
import planted as P
from common import (
    METRICS,
    MINUS,
    RESULTS,
    cell,
    environment,
    load,
    paired_difference,
    seed_files,
    seed_source,
    source,
    table,
    write_result,
    write_tables,
)
from coronet.config import RunConfig
from coronet.gan.setup import resolve_defaults
from coronet.models import load_generator
from coronet.pruning import PAPER_SHRINK, ControllerConfig
from coronet.pruning.hyperconv import FORMS

SHRINKS = {"l1": PAPER_SHRINK, "no-l1": 0.0}
PACE = 3.0  # DHP's kernel step over the lean form's, rounded (2.7 from scratch, 3.4 from a dense model)
REFERENCE = "lean+l1"  # trained on every seed; the width-choice row prunes to the widths it found
# the gated form, K = (z_out z_in^T) * W (no free term): measured here, then removed from the product
# for gaining nothing (commit e3c4eb9 runs it); its rows are still summarised
RETIRED = {"gated+l1": "gated", "gated+no-l1": "gated"}
EVAL_PAIRS = 30


def variants() -> dict[str, dict[str, object]]:
    """{"lean+l1": {"form": "lean", "shrink": 0.3, "pace": 1.0}, ...}"""
    return {f"{name}+{l1}": {"form": form, "shrink": shrink, "pace": pace}
            for name, form, pace in (("lean", "lean", 1.0), ("dhp", "dhp", 1.0), ("lean3", "lean", PACE))
            for l1, shrink in SHRINKS.items()}


def hyper_lr_scale(pace: float, from_dense: bool) -> float:
    """A variant's hypernetwork learning rate: DHP's measured scale (1.0 from scratch, 0.1 from a dense
    model) times its pace, pinned so that the rows do not move when the product's defaults do."""
    return (0.1 if from_dense else 1.0) * pace


def variant_settings(variant: str, from_dense: bool) -> list[str]:
    v = variants()[variant]
    return [f"model.hypernet={v['form']}", f"prune.shrink={v['shrink']}",
            f"train.hyper_lr_scale={hyper_lr_scale(float(v['pace']), from_dense)}"]


def product_default(from_dense: bool) -> str:
    """The variant the product runs when nothing is set: the config's defaults as setup resolves them."""
    start = {"model.init_from": "dense.safetensors"} if from_dense else {}
    cfg = resolve_defaults(RunConfig().updated(start))
    return next(name for name, v in variants().items()
                if (v["form"], v["shrink"]) == (cfg.model.hypernet, cfg.prune.shrink)
                and math.isclose(hyper_lr_scale(float(v["pace"]), from_dense), cfg.train.hyper_lr_scale))


# ---------------------------------------------------------------------------- planted
def planted_seed(args) -> dict:
    """Oracle and uniform rows once, then every variant's search from the teacher."""
    p = P.defaults()
    task = P.make_task(p.ngf, p.blocks, None, p.size, p.quiet_scale, p.min_channels, p.train_images,
                       p.test_images, args.seed, p.noise)
    refs = P.references(task, p.steps, p.lr, p.batch, args.seed)
    out = {"seed": args.seed, **refs, "variants": {}}
    for variant, v in variants().items():
        config = ControllerConfig(min_channels=p.min_channels, shrink=float(v["shrink"]))
        r = out["variants"][variant] = P.coronet_row(
            task, refs, p.steps, p.search_steps, p.lr, p.batch, args.seed, config,
            p.hyper_lr_scale * float(v["pace"]), str(v["form"]))
        print(f"planted seed {args.seed} {variant}: recovered {r['recovered']:.2f}, spearman "
              f"{r['spearman']:.2f}", flush=True)
    return out


# ---------------------------------------------------------------------------- edges2shoes-mini
def pix2pix_args(args, settings: list[str]) -> argparse.Namespace:
    """The namespace baselines.py's helpers read: edges2shoes-mini at the benchmark's size."""
    return argparse.Namespace(data=args.data, size=args.size, batch=2, ngf=args.ngf, model="pix2pix",
                              seed=args.seed, search_steps=args.search_steps,
                              finetune_steps=args.finetune_steps, set=settings, work=args.work_seed)


class Scorer:
    """Paired metrics of a generator on the validation pairs and on the first training pairs."""

    def __init__(self, args) -> None:
        cfg = B.config(pix2pix_args(args, []))
        train, test = B.setup.make_datasets(cfg)
        subset = torch.utils.data.Subset(train, range(min(EVAL_PAIRS, len(train))))
        self.loaders = {"val": torch.utils.data.DataLoader(test, batch_size=8),
                        "train": torch.utils.data.DataLoader(subset, batch_size=8)}

    def __call__(self, generator) -> dict:
        return {split: B.paired_metrics(generator, loader) for split, loader in self.loaders.items()}


def row(args, name: str, train_row, extra: dict, score: Scorer) -> dict:
    """The saved row `name`, or trained now by `train_row()` (-> baselines.Trained), scored."""
    ns = pix2pix_args(args, [])
    if (saved := B.saved_row(ns, name)) is not None and "metrics" in saved:
        return saved
    result = B.save_row(ns, name, train_row(), extra)
    result["metrics"] = score(load_generator(B.row_dir(ns, name) / "G_A.json"))
    (B.row_dir(ns, name) / "row.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"  {name}: val PSNR {result['metrics']['val']['psnr']:.2f}, train PSNR "
          f"{result['metrics']['train']['psnr']:.2f}", flush=True)
    return result


def coronet_row(args, variant: str, ratio: float, score: Scorer, init_from: Path | None = None) -> dict:
    settings = variant_settings(variant, init_from is not None) + (
        [f"model.init_from={init_from}"] if init_from else [])
    cfg = B.config(pix2pix_args(args, settings), ratio=ratio)
    return row(args, f"coronet[{variant}]@{ratio}", lambda: B.train(cfg, compress=True),
               {"method": "coronet", "variant": variant, "target": ratio}, score)


def plain_row(args, name: str, ratio: float, steps: int, score: Scorer, method: str,
              widths: dict[str, int] | None = None, init_from: Path | None = None) -> dict:
    """A plain training run of `steps`: the dense generator, or one at `widths` (from scratch, or
    cut from the trained `init_from` by filter magnitude)."""
    ns = pix2pix_args(args, [])
    cfg = B.config(ns, steps=steps)
    if init_from is not None:
        cfg = cfg.updated({"model.init_from": str(init_from)})
    if widths is not None:
        cfg = B.at_widths(ns, cfg, {"G_A": widths}, name)
    return row(args, name, lambda: B.train(cfg, compress=False), {"method": method, "target": ratio}, score)


def uniform_of(args, ratio: float) -> dict[str, int]:
    return B.uniform_row_widths(B.config(pix2pix_args(args, [])), ratio)["G_A"]


def scratch_seed(args) -> dict:
    score = Scorer(args)
    rows = []
    for ratio in args.targets:
        rows += [coronet_row(args, v, ratio, score) for v in args.variants]
    if not args.no_dense:
        steps = max(r["steps"] for r in rows)
        rows.append(plain_row(args, "dense", 1.0, steps, score, "dense"))
    for ratio in args.targets:
        reference = next(r for r in rows if r.get("variant") == REFERENCE and r["target"] == ratio)
        rows.append(plain_row(args, f"uniform@{ratio}", ratio, reference["steps"], score, "uniform",
                              uniform_of(args, ratio)))
    return {"seed": args.seed, "rows": rows}


def trained_dense(args, score: Scorer) -> tuple[Path, dict, dict]:
    """The dense generator a user brings, trained once (seed 0) for --dense-steps, and the dense
    model of a default run's length, which it must clearly beat."""
    shared = argparse.Namespace(**{**vars(args), "seed": 0, "work_seed": args.work / "trained-dense"})
    long = plain_row(shared, "dense-long", 1.0, args.dense_steps, score, "dense")
    default_length = args.search_steps + args.finetune_steps
    short = plain_row(shared, "dense-short", 1.0, default_length, score, "dense")
    return B.row_dir(pix2pix_args(shared, []), "dense-long") / "G_A.safetensors", long, short


def trained_seed(args) -> dict:
    score = Scorer(args)
    path, long, short = trained_dense(args, score)
    rows = []
    for ratio in args.trained_targets:
        found = [coronet_row(args, v, ratio, score, init_from=path) for v in args.variants]
        rows += found
        reference = next(r for r in found if r["variant"] == REFERENCE)
        steps = reference["steps"]
        for name, widths in (("magnitude-uniform", uniform_of(args, ratio)),
                             ("magnitude-coronet-widths", reference["generators"]["G_A"]["widths"])):
            rows.append(plain_row(args, f"{name}@{ratio}", ratio, steps, score, name, widths, path))
        rows.append(plain_row(args, f"uniform-scratch@{ratio}", ratio, steps, score, "uniform-scratch",
                              uniform_of(args, ratio)))
    return {"seed": args.seed, "dense_long": long, "dense_short": short, "rows": rows}


# ---------------------------------------------------------------------------- summary
SECTIONS = ("planted", "scratch", "trained")
PLAIN_ROWS = ("magnitude-uniform", "magnitude-coronet-widths", "uniform-scratch")
SPLITS = ("val", "train")


def pick(**match):
    """A function giving a seed's row with these fields (None where the seed has none)."""
    return lambda seed: next((r for r in seed["rows"] if all(r.get(k) == v for k, v in match.items())), None)


def differences(seeds: list[dict], row_of, baseline_of, split: str = "val") -> dict | None:
    """Per metric, the paired difference row minus baseline over the seeds that have both."""
    pairs = [(row_of(s), baseline_of(s)) for s in seeds]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(pairs) < 2:
        return None
    return {k: paired_difference([a["metrics"][split][k] - b["metrics"][split][k] for a, b in pairs])
            | {"seeds": len(pairs)} for k in METRICS}


def means(seeds: list[dict], row_of, split: str) -> dict | None:
    rows = [r for r in map(row_of, seeds) if r is not None]
    if not rows:
        return None
    return {k: statistics.mean(r["metrics"][split][k] for r in rows) for k in METRICS} | {"seeds": len(rows)}


def targets(seeds: list[dict], method: str) -> list[float]:
    return sorted({r["target"] for s in seeds for r in s["rows"] if r["method"] == method}, reverse=True)


def planted_summary(seeds: list[dict]) -> dict:
    return {"oracle_over_uniform": [p["oracle_over_uniform"] for p in seeds],
            "variants": {v: {"recovered": [p["variants"][v]["recovered"] for p in seeds],
                             "spearman": [p["variants"][v]["spearman"] for p in seeds]}
                         for v in summarised() if all(v in p["variants"] for p in seeds)}}


def scratch_summary(seeds: list[dict]) -> dict:
    out = {}
    for ratio in targets(seeds, "coronet"):
        uniform = pick(method="uniform", target=ratio)
        reference = pick(method="coronet", variant=REFERENCE, target=ratio)
        found = {v: pick(method="coronet", variant=v, target=ratio) for v in summarised()}
        out[str(ratio)] = {
            "resolution": differences(seeds, pick(method="dense"), uniform),
            "variants": {v: {"minus_uniform": differences(seeds, of, uniform),
                             "minus_reference": differences(seeds, of, reference)}
                         for v, of in found.items()}}
    return out


def trained_summary(seeds: list[dict]) -> dict:
    if not seeds:
        return {}
    out: dict = {"dense": {k: {split: seeds[0][k]["metrics"][split] for split in SPLITS}
                           | {"steps": seeds[0][k]["steps"]} for k in ("dense_long", "dense_short")}}
    for ratio in targets(seeds, "coronet"):
        plain = {m: pick(method=m, target=ratio) for m in PLAIN_ROWS}
        entry: dict = {"rows": {m: {split: means(seeds, of, split) for split in SPLITS}
                                for m, of in plain.items()},
                       "widths_matter": {split: differences(seeds, plain["magnitude-coronet-widths"],
                                                            plain["magnitude-uniform"], split)
                                         for split in SPLITS},
                       "variants": {}}
        for v in summarised():
            coronet = pick(method="coronet", variant=v, target=ratio)
            entry["variants"][v] = {"mean": {split: means(seeds, coronet, split) for split in SPLITS}}
            for m, of in plain.items():
                for split in SPLITS:
                    entry["variants"][v][f"minus_{m}_{split}"] = differences(seeds, coronet, of, split)
        out[str(ratio)] = entry
    return out


def trainable_parameters(ngf: int = 64) -> dict[str, float]:
    """Per form, what the search's generator optimiser trains over what the dense generator's does
    (ResNet-9 at `ngf`; weights, gradients and both Adam moments scale alike)."""
    from coronet.models import get_generator
    from coronet.pruning import hypernetize

    dense = get_generator("resnet_9blocks", ngf=ngf)
    base = sum(p.numel() for p in dense.parameters())
    return {form: sum(p.numel() for p in hypernetize(dense, form=form).parameters()) / base for form in FORMS}


def summarised() -> dict[str, str]:
    """Every variant with rows, runnable or retired, and its form."""
    return {v: str(spec["form"]) for v, spec in variants().items()} | RETIRED


def per_seed(section: str) -> list[dict]:
    """One entry per seed: the rows of every file of that seed (a later call may add a target in a
    file of its own, `ablation_<section>_seed<N>_<label>.json`); a later file's row of a name wins."""
    seeds: dict[int, dict] = {}
    for name in seed_files(f"ablation_{section}"):
        result = load(name)["result"]
        entry = seeds.setdefault(result["seed"], {**result, "rows": []})
        if "rows" in result:
            names = {r["row"] for r in result["rows"]}
            entry["rows"] = [r for r in entry["rows"] if r["row"] not in names] + result["rows"]
    return [seeds[s] for s in sorted(seeds)]


@functools.cache
def summary() -> dict:
    """Every seed's rows of results/ aggregated: what the tables show."""
    loaded = {section: per_seed(section) for section in SECTIONS}
    return {"variants": list(summarised()), "forms": summarised(), "retired": list(RETIRED),
            "reference": REFERENCE,
            "defaults": {"scratch": product_default(False), "trained": product_default(True)},
            "seeds": {s: [d["seed"] for d in ds] for s, ds in loaded.items()},
            "planted": planted_summary(loaded["planted"]), "scratch": scratch_summary(loaded["scratch"]),
            "trained": trained_summary(loaded["trained"]), "trainable_over_dense": trainable_parameters()}


# ---------------------------------------------------------------------------- the tables
VARIANT_NAMES = {"lean": "lean", "dhp": "DHP", "gated": "gated",
                 "lean3": "lean at DHP's pace (hypernetwork lr ×3)"}


def _variant(v: str) -> str:
    form, l1 = v.split("+")
    return f"{VARIANT_NAMES[form]}, {'L1 step' if l1 == 'l1' else 'no L1 step'}"


def _psnr(diff: dict | None) -> str:
    return "–" if diff is None else f"{cell(diff['psnr'], 'psnr')}, n {len(diff['psnr']['per_seed'])}"


def _step_ratio(form: str, size: int) -> str:
    """The Pix2Pix search step over its dense step for `form` (train_step_<form>_<size>.json)."""
    name = f"train_step_{form}_{size}.json"
    if not (RESULTS / name).is_file():
        return "–"
    return f"{load(name)['pix2pix']['rows']['search']['over_dense']:.2f}×"


def ablation_table() -> list[str]:
    """Each variant of the method (form x L1 step) on every measure, over the seeds of results/."""
    d = summary()
    planted, scratch, trained = d["planted"], d["scratch"], d["trained"]
    s_targets = [t for t in ("0.05", "0.025") if t in scratch]
    t_targets = [t for t in ("0.1", "0.05") if t in trained]
    rows = []
    for v in d["variants"]:
        p = planted["variants"].get(v)
        defaults = [f"default {where}" for where, key in (("from scratch", "scratch"),
                    ("from a trained model", "trained")) if d["defaults"][key] == v]
        row = [_variant(v) + (f" (**{', '.join(defaults)}**)" if defaults else "")
               + (" (removed)" if v in d["retired"] else ""),
               f"{min(p['recovered']):.2f} / {min(p['spearman']):.2f}".replace("-", MINUS) if p else "–"]
        row += [_psnr(scratch[t]["variants"][v]["minus_uniform"]) for t in s_targets]
        row += [_psnr(trained[t]["variants"][v]["minus_magnitude-uniform_val"]) for t in t_targets]
        form = d["forms"][v]
        trainable = d["trainable_over_dense"].get(form)
        row += [_step_ratio(form, 128), _step_ratio(form, 256), f"{trainable:.2f}×" if trainable else "–"]
        rows.append(row)
    header = ["variant", "planted: recovered / Spearman (worst of 3 seeds)"]
    header += [f"from scratch {float(t):.1%}: ΔPSNR vs uniform".replace(".0%", "%") for t in s_targets]
    header += [f"from a trained model {float(t):.0%}: ΔPSNR vs magnitude pruning" for t in t_targets]
    header += ["Pix2Pix search step / dense, 128²", "256²", "trainable state / dense"]
    resolution = ["*resolution: dense − uniform*", "–"] + [_psnr(scratch[t]["resolution"]) for t in s_targets]
    resolution += ["–"] * (len(header) - len(resolution))
    pace = load("pace.json")["result"]
    caption = (f"CPU, 1 thread per run; edges2shoes-mini, ResNet-9 ngf 32, 128×128, search ≤ 300 + 300 "
               f"fine-tuning steps. One Adam step moves a DHP kernel "
               f"{pace['scratch']['dhp_over_lean']['median']:.2f}× (from scratch) and "
               f"{pace['dense']['dhp_over_lean']['median']:.2f}× (from a dense model) as far "
               f"as a lean one ({source('pace.json')}). Sources: "
               + ", ".join(seed_source(f"ablation_{s}") for s in SECTIONS) + ".")
    return table(header, rows + [resolution]) + ["", caption]


TRAINED_ROWS = {"coronet": "coronet, defaults (search from the trained model, fine-tuned)",
                "magnitude-uniform": "magnitude pruning to uniform widths, fine-tuned",
                "magnitude-coronet-widths": "magnitude pruning to coronet's widths (lean + L1), fine-tuned",
                "uniform-scratch": "uniform widths from scratch"}


def _means_row(pct: str, label: str, m: dict, seeds: str) -> list[str]:
    val = m["val"]
    return [pct, label, seeds, f"{val['psnr']:.2f}", f"{val['ssim']:.3f}", f"{val['l1']:.4f}",
            f"{m['train']['psnr']:.2f}"]


def from_trained_table() -> list[str]:
    """The scenario users come with: a trained dense generator made small."""
    d, default = summary()["trained"], summary()["defaults"]["trained"]
    rows = []
    for target in [t for t in ("0.1", "0.05") if t in d]:
        e, pct = d[target], f"{float(target):.0%}"
        found = e["variants"][default]
        means = {"coronet": found["mean"], **e["rows"]}
        rows += [_means_row(pct, label, means[key], str(means[key]["val"]["seeds"]))
                 for key, label in TRAINED_ROWS.items() if means[key]["val"] is not None]
        differences = [(label, found[f"{key}_val"], found[f"{key}_train"]) for label, key in (
            ("coronet − magnitude, uniform widths", "minus_magnitude-uniform"),
            ("coronet − magnitude, coronet's widths", "minus_magnitude-coronet-widths"))]
        differences.append(("*the width choice: magnitude at coronet's − at uniform widths*",
                            e["widths_matter"]["val"], e["widths_matter"]["train"]))
        rows += [[pct, label, str(len(val["psnr"]["per_seed"]))] + [cell(val[k], k) for k in METRICS]
                 + [cell(train["psnr"], "psnr")] for label, val, train in differences if val]
    for key, label in (("dense_long", "dense, trained long (the starting point)"),
                       ("dense_short", "dense, trained as long as one compression run")):
        m = d["dense"][key]
        rows.append(_means_row("100%", f"{label}: {m['steps']} steps", m, "1"))
    header = ["MACs", "model", "seeds", "PSNR (val)", "SSIM (val)", "L1 (val)", "PSNR (30 training pairs)"]
    return table(header, rows) + ["", "The same runs as the table above."]


TABLES = {"ablation": ablation_table, "from-trained": from_trained_table}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("section", choices=("planted", "scratch", "trained", "summary"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--targets", type=float, nargs="+", default=[0.05, 0.025], help="scratch section")
    p.add_argument("--trained-targets", type=float, nargs="+", default=[0.1, 0.05], help="trained section")
    p.add_argument("--variants", nargs="+", choices=list(variants()), default=list(variants()),
                   help=f"which variants to train (always with {REFERENCE}, the baseline of the others)")
    p.add_argument("--no-dense", action="store_true", help="scratch: leave out the dense (resolution) row")
    p.add_argument("--search-steps", type=int, default=300)
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--dense-steps", type=int, default=2400, help="the trained dense generator's steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=B.DATA / "edges2shoes-mini")
    p.add_argument("--work", type=Path, help="where trained rows are kept (default: a folder in /tmp)")
    p.add_argument("--out", type=Path, help="default: benchmarks/results/ablation_<section>_seedN.json")
    args = p.parse_args()
    args.variants = [REFERENCE] + [v for v in args.variants if v != REFERENCE]
    torch.set_num_threads(args.threads)
    if args.section == "summary":
        write_tables(TABLES)
        return
    if args.section != "planted" and not args.data.is_dir():
        raise SystemExit(f"{args.data} not found: give the edges2shoes-mini folder with --data")
    lengths = f"{args.size}-{args.ngf}-{args.search_steps}-{args.finetune_steps}-{args.dense_steps}"
    tag = hashlib.sha256(lengths.encode()).hexdigest()[:8]
    args.work = args.work or Path(tempfile.gettempdir()) / "coronet-ablation" / tag
    args.work_seed = args.work / f"{args.section}-seed{args.seed}"
    run = {"planted": planted_seed, "scratch": scratch_seed, "trained": trained_seed}[args.section]
    result = run(args)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out or RESULTS / f"ablation_{args.section}_seed{args.seed}.json",
                 {"benchmark": f"ablation_{args.section}", "config": config, "environment": environment(),
                  "result": result})


if __name__ == "__main__":
    main()
