"""How well each finished Pix2Pix row fits its own training pairs, beside its validation figures.

A row that scores worse on the validation pairs may fit the 120 training pairs worse (it trained
less, in effect) or fit them as well and generalise worse (a warm start's known failing). The two
call for different remedies, so this scores every row kept in the --rows-from folders (baselines.py,
ablation.py and variant.py --work folders) on the training pairs, with the same resize, no flip, in
eval mode, and on the validation pairs as the tables do. No training.

    python benchmarks/train_fit.py edges2shoes --rows-from /tmp/be4x_seed2 /tmp/be4x_seed3 \\
        --out benchmarks/results/train_fit_edges2shoes_long.json

Writes benchmarks/results/train_fit_<dataset>[_seed<N>].json (--out to choose).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import baselines as B
from common import environment, write_result
from coronet.eval.paired import paired_metrics
from coronet.gan import setup


def main() -> None:
    def more(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rows-from", type=Path, nargs="+", required=True,
                       help="--work folders whose finished rows (*/row.json) are scored")

    args = B.arguments(__doc__, more=more)
    if args.model != "pix2pix":
        raise SystemExit("train_fit.py needs paired data (edges2shoes): CycleGAN has no training targets")
    for folder in args.rows_from:
        if not any(folder.glob("*/row.json")):
            raise SystemExit(f"--rows-from {folder}: no finished rows (*/row.json) there")
    score_val = B.scorer(args)  # the tables' own scoring of the validation pairs
    train, _ = setup.make_datasets(B.config(args))  # resize only, no flip: the training pairs as seen
    train_loader = torch.utils.data.DataLoader(train, batch_size=8)
    rows = []
    for folder in args.rows_from:
        args.work = folder  # where generators_of looks
        for path in sorted(folder.glob("*/row.json")):
            generators = B.generators_of(args, path.parent.name)
            scores = {"train": paired_metrics(generators["G_A"], train_loader), "val": score_val(generators)}
            rows.append({"folder": str(folder), "row": path.parent.name, **scores})
            print(f"{folder} {path.parent.name:22s} train PSNR {scores['train']['psnr']:.2f} "
                  f"L1 {scores['train']['l1']:.4f} | val PSNR {scores['val']['psnr']:.2f} "
                  f"L1 {scores['val']['l1']:.4f}", flush=True)
    # only what the scoring depends on: the rows' own training options are in their row.json files
    config = {"dataset": args.dataset, "data": str(args.data), "size": args.size, "ngf": args.ngf,
              "threads": args.threads, "rows_from": [str(f) for f in args.rows_from]}
    out = args.out or Path(__file__).parent / "results" / f"train_fit_{args.dataset}{args.seed_tag}.json"
    write_result(out, {"benchmark": f"train_fit_{args.dataset}", "config": config,
                       "environment": environment(), "rows": rows})


if __name__ == "__main__":
    main()
