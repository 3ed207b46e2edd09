"""Where coronet's deficit comes from: two control rows beside a finished baselines.py run.

At 4x the default length (search 1200, fine-tune 1200 steps) coronet@0.25 falls ~0.35 dB PSNR behind
both the dense model and the uniformly thinner one, which are level with each other. Two rows tell
the suspects apart:
  coronet-arch@r  coronet's searched widths, newly initialised and trained from scratch for as many
                  steps as the coronet run took. Level with uniform: the widths are not the problem,
                  the search-then-fine-tune schedule is. Behind uniform: the widths are.
  uniform-ft@r    the uniform widths trained from scratch for only the fine-tune steps. Level with
                  coronet: the search phase adds nothing the fine-tune keeps.

    python benchmarks/baselines.py edges2shoes --targets 0.25 --search-steps 1200 --finetune-steps 1200
    python benchmarks/ablation.py  edges2shoes --targets 0.25 --search-steps 1200 --finetune-steps 1200
    python benchmarks/ablation.py  photo2monet --seed 3 --threads 1 --work /tmp/bp_seed3   # CycleGAN

Takes the trained rows from baselines.py's --work folder (same options, so the same folder) and
writes benchmarks/results/ablation_<dataset>[_seed<N>].json with all rows' PSNR / SSIM / L1
(FD-rand both ways for photo2monet).
"""

from __future__ import annotations

from pathlib import Path

import baselines as B
from common import environment, write_result


def control_rows(args) -> list[dict]:
    rows = []
    for ratio in args.targets:
        coronet, dense = B.saved_row(args, f"coronet@{ratio}"), B.saved_row(args, "dense")
        if coronet is None or dense is None:
            raise SystemExit(f"no finished coronet@{ratio} and dense rows in {args.work}: "
                             "run benchmarks/baselines.py with the same options first")
        rows += [coronet, dense]
        rows += [r for r in (B.saved_row(args, f"{m}@{ratio}") for m in ("uniform", "magnitude")) if r]
        searched = {n: g["widths"] for n, g in coronet["generators"].items()}
        uniform = B.uniform_row_widths(B.config(args), ratio)
        for name, widths, steps in ((f"coronet-arch@{ratio}", searched, coronet["steps"]),
                                    (f"uniform-ft@{ratio}", uniform, args.finetune_steps)):
            if (r := B.saved_row(args, name)) is None:
                cfg = B.config(args, steps=steps)
                trainer, wall = B.train(cfg, compress=False, generators=B.fresh_generators(args, cfg, widths))
                r = B.save_row(args, name, trainer, wall, {"method": name.split("@")[0], "target": ratio})
            rows.append(r)
    return list({r["row"]: r for r in rows}.values())


def main() -> None:
    args = B.arguments(__doc__)
    args.out = args.out or Path(__file__).parent / "results" / f"ablation_{args.dataset}{args.seed_tag}.json"
    rows = control_rows(args)
    B.quality(args, rows)
    for r in rows:
        m = r["metrics"]
        print(f"{r['row']:<20} {r['steps']:>5} steps  " + "  ".join(
            f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float)))
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {"benchmark": f"ablation_{args.dataset}", "config": config_out,
                            "environment": environment(), "rows": rows})


if __name__ == "__main__":
    main()
