"""Does the search choose the widths? Its diagnostics on the quickstart configurations, over seeds.

For each preset and seed the search runs to its landing (no fine-tuning: the widths are decided
there) and reports, per generator, the share of channel deaths decided among equal scores, the kept
share of every latent group and its distance from uniform thinning to the same MACs; across seeds,
the Spearman correlation of the keep ratios between every pair of seeds (do the seeds agree?).

    python benchmarks/search_diagnostics.py                         # both quickstarts, seeds 0-2
    python benchmarks/search_diagnostics.py --presets quickstart-pix2pix --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from scipy import stats

from common import environment, write_result
from coronet.config import from_dict, load_preset
from coronet.gan import Trainer


def searched(preset: str, seed: int) -> dict[str, dict]:
    """Per generator, the search diagnostics of one seed's search."""
    cfg = from_dict(load_preset(preset)).updated({
        "train.seed": seed, "train.finetune_steps": 0, "train.decay_steps": 0, "train.log_every": 1000,
        "train.sample_every": 0, "train.checkpoint_every": 0})
    with tempfile.TemporaryDirectory() as tmp:
        summary = Trainer(cfg, Path(tmp)).run()
    return {name: {**g.handover.search, "search_steps": g.handover.search_steps,
                   "achieved_ratio": g.handover.achieved_ratio}
            for name, g in summary.generators.items()}


def agreement(per_seed: list[dict]) -> dict:
    keeps = [list(d["keep_ratios"].values()) for d in per_seed]
    pairs = [float(stats.spearmanr(a, b)[0]) for i, a in enumerate(keeps) for b in keeps[i + 1:]]
    return {"tie_decided_fraction": [d["tie_decided_fraction"] for d in per_seed],
            "uniform_distance": [d["uniform_distance"] for d in per_seed],
            "rank_correlation_between_seeds": pairs,
            "mean_rank_correlation": statistics.mean(pairs) if pairs else None,
            "per_seed": per_seed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["quickstart-pix2pix", "quickstart-cyclegan"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "search_diagnostics.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result = {}
    for preset in args.presets:
        runs = [searched(preset, seed) for seed in args.seeds]
        result[preset] = {name: agreement([run[name] for run in runs]) for name in runs[0]}
        for name, d in result[preset].items():
            print(f"{preset} {name}: tie-decided {d['tie_decided_fraction']}, distance from uniform "
                  f"{d['uniform_distance']}, seed agreement {d['mean_rank_correlation']:.2f}", flush=True)
    write_result(args.out, {"benchmark": "search_diagnostics", "config": {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(), "presets": result})


if __name__ == "__main__":
    main()
