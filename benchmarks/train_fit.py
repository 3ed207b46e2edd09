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
from coronet.models import load_generator


def main() -> None:
    def more(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rows-from", type=Path, nargs="+", required=True,
                       help="--work folders whose finished rows (*/G_A.json) are scored")

    args = B.arguments(__doc__, more=more)
    if args.model != "pix2pix":
        raise SystemExit("train_fit.py needs paired data (edges2shoes): CycleGAN has no training targets")
    train, val = setup.make_datasets(B.config(args))  # resize only, no flip: the training pairs as seen
    loaders = {split: torch.utils.data.DataLoader(d, batch_size=8) for split, d in
               (("train", train), ("val", val))}
    rows = []
    for folder in args.rows_from:
        for model in sorted(folder.glob("*/G_A.json")):
            generator = load_generator(model)
            scores = {split: paired_metrics(generator, loader) for split, loader in loaders.items()}
            rows.append({"folder": str(folder), "row": model.parent.name, **scores})
            print(f"{folder} {model.parent.name:22s} train PSNR {scores['train']['psnr']:.2f} "
                  f"L1 {scores['train']['l1']:.4f} | val PSNR {scores['val']['psnr']:.2f} "
                  f"L1 {scores['val']['l1']:.4f}", flush=True)
    if not rows:
        raise SystemExit(f"no finished rows (*/G_A.json) in {', '.join(map(str, args.rows_from))}")
    # only what the scoring depends on: the rows' own training options are in their row.json files
    config = {"dataset": args.dataset, "data": str(args.data), "size": args.size, "ngf": args.ngf,
              "threads": args.threads, "rows_from": [str(f) for f in args.rows_from]}
    out = args.out or Path(__file__).parent / "results" / f"train_fit_{args.dataset}{args.seed_tag}.json"
    write_result(out, {"benchmark": f"train_fit_{args.dataset}", "config": config,
                       "environment": environment(), "rows": rows})


if __name__ == "__main__":
    main()
