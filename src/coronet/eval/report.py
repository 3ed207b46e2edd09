"""What a finished run reports: report.json's training sections and the pictures beside it.

`report.json` is the contract other tools and the benchmarks read (keys documented in
docs/usage.md); `report.md` (coronet.runs.markdown) is the same for a person, with the sample grid and two
plots: the cost ratio during the search and the final width of every layer against its dense width.
`coronet.runs.outputs` writes them into the run folder.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from coronet.eval import COUNTER, count_macs, count_params  # noqa: E402
from coronet.files import atomic_write  # noqa: E402
from coronet.gan.summary import RunSummary  # noqa: E402


def versions() -> dict[str, str]:
    return {"coronet": version("coronet"), "torch": torch.__version__,
            "torchprofile": version("torchprofile")}


def layer_widths(generator, widths: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per generated layer: output and input channels, pruned and dense."""
    dense = generator.layout.dense_widths()
    out = {}
    for spec in generator.layout.convs:
        out[spec.module] = {"out": widths[spec.out_group], "dense_out": dense[spec.out_group],
                            "in": sum(widths[g] for g in spec.in_groups),
                            "dense_in": sum(dense[g] for g in spec.in_groups)}
    return out


def evaluate_test_split(test_set, generator, limit: int = 500) -> dict[str, float]:
    """PSNR / SSIM / L1 of a generator on (at most `limit` images of) a paired test split, on the
    generator's device."""
    from torch.utils.data import DataLoader, Subset

    from coronet.eval.paired import paired_metrics

    subset = Subset(test_set, range(min(limit, len(test_set))))
    device = next(generator.parameters()).device
    return paired_metrics(generator, DataLoader(subset, batch_size=8), device)


def build_report(summary: RunSummary, test_set=None) -> dict[str, Any]:
    """report.json's training sections for a finished run (`test_set`: the paired test split Pix2Pix
    runs are scored on; none for CycleGAN). `exported` is filled by whoever writes the files."""
    cfg = summary.config
    size = (cfg.data.crop_size, cfg.data.crop_size)
    gens: dict[str, Any] = {}
    for name, run_g in summary.generators.items():
        g = run_g.generator.eval()  # counted and scored as deployed (batch norms use their statistics)
        dense = {"macs": run_g.dense_macs, "params": run_g.dense_params}
        compressed = {"macs": count_macs(g, size), "params": count_params(g)}
        entry: dict[str, Any] = {"dense": dense, "compressed": compressed,
                                 "widths": layer_widths(g, g.widths), "group_widths": g.widths}
        if summary.compress:
            metric = cfg.prune.metric
            entry.update({
                # a latency ratio is the latency model's prediction (the measurement is `latency_target`)
                "achieved_ratio": (compressed[metric] / dense[metric] if metric in compressed
                                   else run_g.handover.achieved_ratio),
                "target_limit": run_g.budget.limit,
                "target_lower": run_g.budget.lower,
                "export_max_abs_diff": run_g.handover.export_max_abs_diff,
                "forced_landing": run_g.handover.forced_landing,
                "search": run_g.handover.search,
            })
        if name == "G_A" and cfg.train.model == "pix2pix" and test_set is not None:
            entry["test_metrics"] = evaluate_test_split(test_set, g)  # ground truth exists
        g.train()
        gens[name] = entry
    t, steps = summary.timing, summary.steps
    return {
        "model": cfg.train.model,
        "dataset": cfg.data.dataroot,
        "compressed": summary.compress,
        "target": ({"metric": cfg.prune.metric, "ratio": cfg.prune.ratio,
                    "ratio_B": cfg.prune.ratio_B, "absolute": cfg.prune.absolute,
                    "absolute_B": cfg.prune.absolute_B}
                   if summary.compress else None),
        "generators": gens,
        "timing": {"search_s": t["search_s"], "export_s": t["export_s"],
                   "finetune_s": t["finetune_s"] + t["train_s"],
                   "total_s": sum(t.values()),
                   "iterations": {"search": steps["search"], "finetune": steps["finetune"] + steps["train"]}},
        "exported": {},
        "warnings": list(summary.warnings),
        "input_size": list(size),
        "counter": COUNTER,
        "versions": versions(),
        "config": cfg.to_dict(),
    }


def write_pictures(summary: RunSummary, report: dict[str, Any], run_dir: Path) -> None:
    """samples.png, and the plots of the cost during the search and of the widths found."""
    cfg = summary.config
    if summary.samples is not None:
        picture = labelled_samples(summary.samples, cfg.data.crop_size, cfg.train.model)
        atomic_write(run_dir / "samples.png", lambda tmp: picture.save(tmp, format="PNG"))
    if summary.compress:
        _plot_ratio(summary, run_dir / "cost_ratio.png")
    _plot_widths(report["generators"], run_dir / "widths.png")


SAMPLE_LABELS = {"pix2pix": ("input", "output", "target"),
                 "cyclegan": ("input", "translated", "translated back")}
SAMPLE_CELL = 128  # the least a person sees a sample at (pixels per side)


def labelled_samples(grid: np.ndarray, cell: int, model: str) -> Image.Image:
    """The sample grid (rows of input | output | third, `cell` pixels each) enlarged by a whole
    factor to at least SAMPLE_CELL pixels per image, nearest-neighbour (no detail invented), with a
    label over each column."""
    scale = max(1, -(-SAMPLE_CELL // cell))
    image = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=16)
    band = 26
    out = Image.new("RGB", (image.width, image.height + band), "white")
    out.paste(image, (0, band))
    draw = ImageDraw.Draw(out)
    width = cell * scale
    for i, label in enumerate(SAMPLE_LABELS.get(model, SAMPLE_LABELS["pix2pix"])):
        left, _, right, _ = draw.textbbox((0, 0), label, font=font)
        draw.text((i * width + (width - (right - left)) / 2, 4), label, fill="black", font=font)
    return out


def _plot_ratio(summary: RunSummary, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, run_g in summary.generators.items():
        points = [(p["step"], p[name]) for p in summary.history if name in p]
        if points:
            steps, ratios = zip(*points, strict=True)
            ax.plot(steps, ratios, label=name)
        budget = run_g.budget
        ax.axhspan(budget.lower / budget.dense, budget.limit / budget.dense, alpha=0.2)
    ax.set_xlabel("search step")
    ax.set_ylabel(f"{summary.config.prune.metric} / dense")
    ax.set_ylim(0, 1.02)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.set_title("Cost during the search (band: landing window)")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _plot_widths(gens: dict[str, Any], path: Path) -> None:
    """Per generator, every latent group's kept share of its dense width, beside uniform thinning to
    the same cost (compress runs), labelled by group name."""
    fig, axes = plt.subplots(len(gens), 1, figsize=(9, 3.2 * len(gens)), squeeze=False)
    for ax, (name, entry) in zip(axes[:, 0], gens.items(), strict=True):
        search = entry.get("search")
        if search:
            groups = list(search["keep_ratios"])
            x = np.arange(len(groups))
            ax.bar(x - 0.2, [search["keep_ratios"][g] for g in groups], 0.4, color="#3b75af", label="found")
            ax.bar(x + 0.2, [search["uniform_keep_ratios"][g] for g in groups], 0.4, color="#cccccc",
                   label="uniform, same cost")
            ax.set_ylabel("kept / dense channels")
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{name}: channels kept per latent group (tie-decided deaths "
                         f"{search['tie_decided_fraction']:.0%}, distance from uniform "
                         f"{search['uniform_distance']:.2f})", fontsize=9)
        else:
            groups = [g for g in entry["group_widths"] if g not in ("rgb_in", "rgb_out")]
            x = np.arange(len(groups))
            ax.bar(x, [entry["group_widths"][g] for g in groups], color="#3b75af")
            ax.set_ylabel("channels")
            ax.set_title(f"{name}: channels per latent group")
        ax.set_xticks(x, groups, rotation=90, fontsize=7)
        ax.set_xlabel("latent group")
        if search:
            ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_tradeoff(models: list[dict[str, Any]], path: Path) -> bool:
    """tradeoff.png of a run with several targets: quality (PSNR on the test pairs, Pix2Pix) against
    MACs and against measured latency, one point per model; without quality, latency against MACs.
    False when there is nothing to plot against the MACs."""
    psnr = all("psnr" in m for m in models)
    latency = all("measured_ms" in m for m in models)
    if not (psnr or latency):
        return False
    panels = [("macs", "G MACs")] + ([("measured_ms", "measured ms")] if psnr and latency else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        x = [m[key] / (1e9 if key == "macs" else 1) for m in models]
        y = [m["psnr"] if psnr else m["measured_ms"] for m in models]
        ax.plot(x, y, "o-", color="#3b75af")
        for xi, yi, m in zip(x, y, models, strict=True):
            ax.annotate(m["folder"].removeprefix("targets/"), (xi, yi), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xlabel(label)
        ax.set_ylabel("test PSNR dB" if psnr else "measured ms")
        ax.grid(alpha=0.3)
    fig.suptitle("One search, one model per target", fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return True
