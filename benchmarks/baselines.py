"""coronet against its baselines at the same MACs: same data, iterations and settings.

Rows, per target ratio of the generator MACs:
  coronet    one run: search (hypernetwork + proximal pruning to the target) -> fine-tune
  uniform    every group thinned by the same factor to the same MACs, trained from scratch for as
             many steps as the coronet run took (search + fine-tune)
  magnitude  the trained dense model, each group cut to the uniform widths keeping the filters of
             largest L1 norm (Li et al. 2017), then fine-tuned as long as coronet fine-tunes (its
             discriminator continues from the dense run's, as coronet's does)
and once: dense, trained as long as the longest coronet run.

    python benchmarks/baselines.py edges2shoes    # Pix2Pix, ResNet-9 ngf32, 128x128, 25% and 10%
    python benchmarks/baselines.py photo2monet    # CycleGAN, ResNet-9 ngf32, 128x128, 25%
    python benchmarks/baselines.py edges2shoes --seed 1   # another seed: baselines_edges2shoes_seed1.json
    python benchmarks/baselines.py edges2shoes --search-steps 20 --finetune-steps 10   # quick look
    python benchmarks/baselines.py edges2shoes --set train.hyper_lr_scale=0.1   # any config field

Quality: Pix2Pix - PSNR / SSIM / L1 on the 30 validation pairs. CycleGAN - "FD-rand", a Frechet
distance on pool3 features of the FID Inception with fixed *random* weights (the real FID weights
are not on this machine): a proxy to rank models trained on the same data, NOT FID. Latency: CPU,
batch 1, median of interleaved runs (PyTorch eager and onnxruntime FP32). Finished rows are kept in
--work, so a rerun after a crash trains only what is missing. Writes
benchmarks/results/baselines_<dataset>.json and .png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import warnings
from pathlib import Path

import torch

from common import environment, write_result
from coronet.config import RunConfig, apply_overrides
from coronet.data import TransformConfig, list_images, load_rgb
from coronet.data import transforms as T
from coronet.deploy import export_onnx, measure_interleaved, onnx_runner, torch_runner
from coronet.eval import count_macs, count_params
from coronet.eval.fid import frechet_distance, inception_features, random_inception, statistics
from coronet.eval.paired import paired_metrics, to_unit
from coronet.gan import RunSummary, Trainer, networks, setup
from coronet.gan.checkpoint import save_checkpoint
from coronet.models import get_generator, load_generator, save_generator
from coronet.pruning import CostModel
from coronet.pruning.baselines import uniform_widths

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {
    "edges2shoes": {"folder": "edges2shoes-mini", "model": "pix2pix", "targets": [0.25, 0.1],
                    "batch": 2, "search": 300, "finetune": 300},
    "photo2monet": {"folder": "photo2monet-mini", "model": "cyclegan", "targets": [0.25],
                    "batch": 1, "search": 200, "finetune": 200},
}


def config(args, steps: int | None = None, ratio: float | None = None) -> RunConfig:
    cfg = RunConfig().updated({
        "data.dataroot": str(args.data), "data.load_size": args.size, "data.crop_size": args.size,
        "data.preprocess": "resize", "data.flip": False, "data.batch_size": args.batch,
        "model.netG": "resnet_9blocks", "model.ngf": args.ngf, "model.ndf": 64,
        "train.model": args.model, "train.seed": args.seed,
        "train.gan_mode": "hinge" if args.model == "pix2pix" else None,
        "train.search_steps": args.search_steps,
        "train.finetune_steps": steps if steps is not None else args.finetune_steps,
        "train.decay_steps": args.finetune_steps // 2,
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


def generators_of(args, row: str) -> dict:
    return {name: load_generator(row_dir(args, row) / f"{name}.json")
            for name in ("G_A", "G_B")[: 1 if args.model == "pix2pix" else 2]}


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
        "model.init_D_from": str(dense / "discriminators.pt"),
        **({"model.init_from_B": str(dense / "G_B.safetensors")} if args.model == "cyclegan" else {})})
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
def folder_tensors(folder: Path, size: int) -> torch.Tensor:
    cfg = TransformConfig(size, size, "resize", False)
    return torch.stack([T.apply(load_rgb(f), cfg, T.Draw(0, 0, False)) for f in list_images(folder, "image")])


@torch.no_grad()
def translate(generator, images: torch.Tensor) -> torch.Tensor:
    generator = generator.eval()
    return torch.cat([to_unit(generator(images[i:i + 8])) for i in range(0, len(images), 8)])


def scorer(args):
    """The table's quality measure as a function of a row's generators: PSNR / SSIM / L1 of G_A for
    Pix2Pix, an `FDRand` (both directions) for CycleGAN. Built once: the set-up is the slow part."""
    if args.model == "cyclegan":
        return FDRand(args)
    _, test = setup.make_datasets(config(args))
    loader = torch.utils.data.DataLoader(test, batch_size=8)
    return lambda gens: paired_metrics(gens["G_A"], loader)


def quality(args, rows: list[dict], score=None) -> None:
    score = score or scorer(args)
    for r in rows:
        r["metrics"] = score(generators_of(args, r["row"]))
        print(r["row"], r["metrics"], flush=True)


class FDRand:
    """FD-rand of a CycleGAN's two directions. The real images' statistics (train + test, the slow
    part) are computed once; the translations are returned so a caller can measure more on them."""

    def __init__(self, args) -> None:
        self.net = random_inception(seed=0)
        root = Path(args.data)
        self.test = {s: folder_tensors(root / f"test{s}", args.size) for s in "AB"}
        self.real = {s: statistics(self._features(to_unit(torch.cat([
            folder_tensors(root / f"train{s}", args.size), self.test[s]])))) for s in "AB"}

    def _features(self, images: torch.Tensor):
        return inception_features(self.net, [images[i:i + 25] for i in range(0, len(images), 25)])

    def translate(self, gens: dict) -> dict[str, torch.Tensor]:
        """{"G_A": test photos translated, "G_B": test paintings translated}, in [0, 1]."""
        return {"G_A": translate(gens["G_A"], self.test["A"]), "G_B": translate(gens["G_B"], self.test["B"])}

    def __call__(self, gens: dict) -> dict:
        return self.score(self.translate(gens))

    def untranslated(self) -> dict:
        """The test images scored as their own translations: what a generator that does nothing gets."""
        return self.score({"G_A": to_unit(self.test["A"]), "G_B": to_unit(self.test["B"])})

    def score(self, fakes: dict[str, torch.Tensor]) -> dict:
        def distance(images: torch.Tensor, target: str) -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scipy: singular product (more dims than images)
                return frechet_distance(*statistics(self._features(images)), *self.real[target])

        return {"fd_rand_AtoB": distance(fakes["G_A"], "B"), "fd_rand_BtoA": distance(fakes["G_B"], "A"),
                "images_A": len(self.test["A"]), "images_B": len(self.test["B"])}


def latency(args, rows: list[dict]) -> None:
    size, threads = (args.size, args.size), args.threads
    runners = {}
    for r in rows:
        g = generators_of(args, r["row"])["G_A"]
        path = row_dir(args, r["row"]) / "G_A.fp32.onnx"
        export_onnx(g, path, size, "fp32")
        runners[f"{r['row']}|torch"] = torch_runner(g, size, threads)
        runners[f"{r['row']}|onnx"] = onnx_runner(path, size, threads)
    timed = measure_interleaved(runners, runs=args.latency_runs, warmup=3)
    for r in rows:
        r["latency_G_A"] = {"torch_eager": timed[f"{r['row']}|torch"],
                            "onnxruntime_fp32": timed[f"{r['row']}|onnx"],
                            "threads": threads, "batch": 1, "size": list(size)}


def plot(args, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, label = ("psnr", "PSNR (dB, higher is better)") if args.model == "pix2pix" else \
        ("fd_rand_AtoB", "FD-rand A->B (proxy, NOT FID; lower is better)")
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, marker in (("coronet", "o"), ("uniform", "s"), ("magnitude", "^"), ("dense", "*")):
        pts = sorted((r["generators"]["G_A"]["macs"] / 1e9, r["metrics"][key]) for r in rows
                     if r["method"] == method)
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=marker, label=method,
                    linestyle="-" if len(pts) > 1 else "")
    ax.set_xlabel(f"G_A MACs (G, {args.size}x{args.size})")
    ax.set_ylabel(label)
    ax.set_title(f"{args.dataset}: quality against MACs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parser(description: str = __doc__) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(SETS))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--targets", type=float, nargs="+")
    p.add_argument("--search-steps", type=int)
    p.add_argument("--finetune-steps", type=int)
    p.add_argument("--seed", type=int, default=0, help="training seed of every row (run-to-run spread)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config field for every row, e.g. train.hyper_lr_scale=0.1 (repeatable; the "
                        "search's own fields change only the coronet rows)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--latency-runs", type=int, default=20)
    p.add_argument("--data", type=Path, help=f"the dataset folder (default: {DATA}/<its mini set>)")
    p.add_argument("--work", type=Path, help="where trained rows are kept (default: a folder in /tmp)")
    p.add_argument("--out", type=Path, help="default: benchmarks/results/<benchmark>_<dataset>[_seedN].json")
    return p


def arguments(description: str = __doc__) -> argparse.Namespace:
    """The benchmark's options, resolved to the dataset and the work folder of trained rows."""
    args = parser(description).parse_args()
    spec = SETS[args.dataset]
    args.data = args.data or DATA / spec["folder"]
    args.model, args.batch = spec["model"], spec["batch"]
    args.targets = args.targets or spec["targets"]
    args.search_steps = args.search_steps or spec["search"]
    args.finetune_steps = args.finetune_steps or spec["finetune"]
    args.seed_tag = f"_seed{args.seed}" if args.seed else ""
    settings = hashlib.sha256("\n".join(args.set).encode()).hexdigest()[:8] if args.set else "default"
    steps = f"{args.search_steps}-{args.finetune_steps}"
    tag = f"{args.dataset}-{args.size}-{args.ngf}-{steps}-{settings}{args.seed_tag}"
    args.work = args.work or Path(tempfile.gettempdir()) / "coronet-baselines" / tag
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} not found: give the dataset folder with --data")
    config(args)  # a wrong --set fails now, not after an hour of training
    torch.set_num_threads(args.threads)
    return args


def main() -> None:
    args = arguments()
    args.out = args.out or Path(__file__).parent / "results" / f"baselines_{args.dataset}{args.seed_tag}.json"
    rows = run_rows(args)
    quality(args, rows)
    latency(args, rows)
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {"benchmark": f"baselines_{args.dataset}", "config": config_out,
                            "environment": environment(), "rows": rows})
    plot(args, rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
