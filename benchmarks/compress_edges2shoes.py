"""Compress Pix2Pix on ../shared/data/edges2shoes-mini to 25% and 10% of the MACs and train a dense
model of the same length, all in one process: the trained generators latency.py times.

    python benchmarks/compress_edges2shoes.py --keep DIR    # ResNet-9 ngf 64, 128x128
    python benchmarks/compress_edges2shoes.py --search-steps 40 --finetune-steps 20 --out /tmp/x.json

Writes benchmarks/results/compress_edges2shoes_ngf64.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from common import environment, write_result
from coronet.config import RunConfig
from coronet.data import AlignedDataset, TransformConfig
from coronet.eval import count_macs, count_params
from coronet.eval.paired import paired_metrics
from coronet.gan.trainer import Trainer
from coronet.models import save_generator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "edges2shoes-mini"


def config(args, ratio: float | None, finetune_steps: int | None = None) -> RunConfig:
    return RunConfig().updated({
        "data.dataroot": str(args.data), "data.load_size": args.size, "data.crop_size": args.size,
        "data.preprocess": "resize", "data.flip": False, "data.batch_size": args.batch,
        "model.netG": "resnet_9blocks", "model.ngf": args.ngf, "model.ndf": 64,
        "train.model": "pix2pix", "train.gan_mode": "hinge", "train.search": args.search_steps,
        "train.finetune": finetune_steps if finetune_steps is not None else args.finetune_steps,
        "train.decay": args.finetune_steps // 2, "train.log_every": 50, "train.sample_every": 0,
        "train.checkpoint_every": 0, **({"prune.ratio": ratio} if ratio is not None else {})})


def evaluate(generator, args) -> dict:
    val = AlignedDataset(args.data, "test", cfg=TransformConfig(args.size, args.size, "resize", False))
    loader = torch.utils.data.DataLoader(val, batch_size=8)
    return paired_metrics(generator, loader)


def one_run(args, ratio: float | None, steps: int | None = None) -> dict:
    cfg = config(args, ratio, steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = Trainer(cfg, Path(tmp), compress=ratio is not None).run()
        wall = time.perf_counter() - start
    run_g = summary.generators["G_A"]
    g = run_g.generator
    size = (args.size, args.size)
    out = {
        "target_macs_ratio": ratio,
        "dense_macs": run_g.dense_macs, "dense_params": run_g.dense_params,
        "macs": count_macs(g, size), "params": count_params(g),
        "timing": summary.timing, "steps": summary.steps, "wall_s": wall,
        "metrics": evaluate(g, args),
    }
    out["achieved_ratio"] = out["macs"] / out["dense_macs"]
    if args.keep is not None:
        name = "dense" if ratio is None else f"coronet_{round(ratio * 100)}pct"
        out["kept"] = str(save_generator(g.cpu().eval(), args.keep / f"{name}.pt"))
    if ratio is not None:
        out["export_max_abs_diff"] = run_g.handover.export_max_abs_diff
        out["widths"] = g.widths
    print(f"target {ratio}: ratio {out['achieved_ratio']:.4f}, wall {wall:.0f} s, "
          f"{out['metrics']}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--search-steps", type=int, default=300)
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--targets", type=float, nargs="+", default=[0.25, 0.1])
    p.add_argument("--out", type=Path,
                   default=Path(__file__).parent / "results" / "compress_edges2shoes_ngf64.json")
    p.add_argument("--keep", type=Path, default=None,
                   help="save each trained generator here (dense, coronet_25pct, ...)")
    args = p.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} not found: this benchmark needs the shared edges2shoes-mini set")
    runs = [one_run(args, r) for r in args.targets]
    mean_steps = round(sum(r["steps"]["search"] + r["steps"]["finetune"] for r in runs) / len(runs))
    dense = one_run(args, None, steps=mean_steps)
    dense_step = dense["timing"]["train_s"] / max(dense["steps"]["train"], 1)
    for r in runs:
        t, s = r["timing"], r["steps"]
        r["per_step_s"] = {"search": t["search_s"] / max(s["search"], 1),
                           "finetune": t["finetune_s"] / max(s["finetune"], 1), "dense": dense_step}
        r["total_train_s_vs_dense_same_steps"] = (t["search_s"] + t["export_s"] + t["finetune_s"]) / (
            dense_step * (s["search"] + s["finetune"]))
    write_result(args.out, {"benchmark": "compress_edges2shoes_mini", "config": {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(), "dense": dense, "compressed": runs})


if __name__ == "__main__":
    main()
