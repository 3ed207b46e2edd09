"""A coronet variant against a finished baselines.py result, training only the coronet rows.

The baselines (dense, uniform, magnitude) of a committed result do not depend on coronet's options,
so a variant (another latent start, another fine-tune start) needs only its own coronet rows to be
compared with them at the same seed and schedule. The result's settings are checked first; the
variant's rows and the result's rows are written side by side with the paired differences.

    python benchmarks/variant.py edges2shoes --latent-init ones --seed 1 \
        --against benchmarks/results/baselines_edges2shoes_seed1.json

Writes benchmarks/results/variant_<dataset>[_s<search>-f<finetune>]_<variant>[_seed<N>].json, the
schedule named where it is not the benchmark's default (--out to choose).
"""

from __future__ import annotations

import json
from pathlib import Path

import baselines as B
from baselines_seeds import BETTER
from common import environment, write_result

MATCH = ("dataset", "size", "ngf", "seed", "search_steps", "finetune_steps", "batch")


def variant_name(args) -> str:
    parts = [f"latent-{args.latent_init}" if args.latent_init else "",
             args.finetune_init if args.finetune_init != "searched" else "",
             "scale-free" if args.scale_free_output else "",
             f"hyper-lr{args.hyper_lr_scale:g}" if args.hyper_lr_scale != 1.0 else ""]
    return "-".join(p for p in parts if p) or "default"


def reference_rows(args) -> list[dict]:
    """The committed rows, after checking they were trained with this run's settings."""
    if not args.against.is_file():
        raise SystemExit(f"--against {args.against}: give a finished baselines.py result (JSON)")
    result = json.loads(args.against.read_text())
    theirs = result["config"]
    if theirs.get("seed") is None:  # results written before --seed existed were all seed 0
        theirs = {**theirs, "seed": 0}
    differ = [k for k in MATCH if theirs.get(k) != getattr(args, k)]
    if differ:
        raise SystemExit(f"{args.against} was trained with other settings ({', '.join(differ)}): "
                         "pass the same --seed / --search-steps / --finetune-steps / --size / --ngf")
    return result["rows"]


def main() -> None:
    args = B.arguments(__doc__, more=lambda p: p.add_argument(
        "--against", type=Path, required=True, help="the finished baselines.py result to compare with"))
    theirs = reference_rows(args)
    name = variant_name(args)
    spec = B.SETS[args.dataset]
    schedule = "" if (args.search_steps, args.finetune_steps) == (spec["search"], spec["finetune"]) \
        else f"_s{args.search_steps}-f{args.finetune_steps}"
    results = Path(__file__).parent / "results"
    args.out = args.out or results / f"variant_{args.dataset}{schedule}_{name}{args.seed_tag}.json"
    rows = []
    for ratio in args.targets:
        row = f"coronet@{ratio}"
        if (r := B.saved_row(args, row)) is None:
            trainer, wall = B.train(B.config(args, ratio=ratio), compress=True)
            r = B.save_row(args, row, trainer, wall, {"method": "coronet", "target": ratio})
        rows.append(r)
    B.quality(args, rows)
    differences = {}
    for r in rows:
        for ref in theirs:
            if ref.get("target") in (r["target"], 1.0) and "metrics" in ref:
                key = f"{name} {r['row']} - {ref['row']}"
                # the quality metrics only, not counts such as images_A
                differences[key] = {m: r["metrics"][m] - ref["metrics"][m] for m in BETTER
                                    if m in r["metrics"] and m in ref["metrics"]}
                print(key, "  ".join(f"{m} {v:+.4f}" for m, v in differences[key].items()))
    config_out = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.out, {"benchmark": f"variant_{args.dataset}", "variant": name, "config": config_out,
                            "environment": environment(), "rows": rows,
                            "reference": {"file": str(args.against), "rows": theirs},
                            "differences": differences})


if __name__ == "__main__":
    main()
