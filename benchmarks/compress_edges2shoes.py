"""Compress Pix2Pix on ../shared/data/edges2shoes-mini to 50%, 25% and 10% of the MACs, and train a
dense model of the same length, all in one process; paired metrics on the 30 validation pairs.

    python benchmarks/compress_edges2shoes.py                     # ResNet-9 ngf 32, 128x128
    python benchmarks/compress_edges2shoes.py --search-steps 40 --finetune-steps 20   # quick look

Writes benchmarks/results/compress_edges2shoes_mini.json.
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "edges2shoes-mini"


def config(args, ratio: float | None) -> RunConfig:
    cfg = RunConfig()
    cfg.data.dataroot = str(args.data)
    cfg.data.load_size = cfg.data.crop_size = args.size
    cfg.data.preprocess, cfg.data.flip, cfg.data.batch_size = "resize", False, args.batch
    cfg.model.netG, cfg.model.ngf, cfg.model.ndf = "resnet_9blocks", args.ngf, 64
    cfg.train.model, cfg.train.gan_mode = "pix2pix", "hinge"
    cfg.train.search_steps, cfg.train.finetune_steps = args.search_steps, args.finetune_steps
    cfg.train.decay_steps = args.finetune_steps // 2
    cfg.train.log_every, cfg.train.sample_every, cfg.train.checkpoint_every = 50, 0, 0
    if ratio is not None:
        cfg.prune.ratio = ratio
    return cfg


def evaluate(generator, args) -> dict:
    val = AlignedDataset(args.data, "test", cfg=TransformConfig(args.size, args.size, "resize", False))
    loader = torch.utils.data.DataLoader(val, batch_size=8)
    return paired_metrics(generator, loader)


def one_run(args, ratio: float | None, steps: int | None = None) -> dict:
    cfg = config(args, ratio)
    if steps is not None:
        cfg.train.finetune_steps, cfg.train.decay_steps = steps, args.finetune_steps // 2
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        trainer = Trainer(cfg, Path(tmp), compress=ratio is not None)
        trainer.run()
        wall = time.perf_counter() - start
    g = trainer.generators["G_A"]
    size = (args.size, args.size)
    cost = trainer.cost_models["G_A"]
    dense_w = g.layout.dense_widths()
    out = {
        "target_macs_ratio": ratio,
        "dense_macs": cost.macs(dense_w), "dense_params": cost.params(dense_w),
        "macs": count_macs(g, size), "params": count_params(g),
        "timing": trainer.timing, "steps": trainer.steps_done, "wall_s": wall,
        "metrics": evaluate(g, args),
    }
    out["achieved_ratio"] = out["macs"] / out["dense_macs"]
    if ratio is not None:
        out["export_max_abs_diff"] = trainer.exports["G_A"]["export_max_abs_diff"]
        out["widths"] = g.widths
    print(f"target {ratio}: ratio {out['achieved_ratio']:.4f}, wall {wall:.0f} s, "
          f"{out['metrics']}", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--search-steps", type=int, default=300)
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--targets", type=float, nargs="+", default=[0.5, 0.25, 0.1])
    p.add_argument("--out", type=Path,
                   default=Path(__file__).parent / "results" / "compress_edges2shoes_mini.json")
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
