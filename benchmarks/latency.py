"""Does a coronet generator run faster in proportion to its MACs? CPU latency of the compact
ResNet-9 (ngf 64) at 25% and 10% of the MACs against the dense one, 256x256, batch 1.

    python benchmarks/compress_edges2shoes.py --ngf 64 --targets 0.25 0.1 --keep /tmp/trained64 \
        --out benchmarks/results/compress_edges2shoes_ngf64.json
    python benchmarks/latency.py --generators /tmp/trained64   # the trained generators, 3 x 30 runs
    python benchmarks/latency.py --search-steps 20 --runs 5 --repeats 1  # quick look, untrained
    python benchmarks/latency.py --netG mobile_resnet_9blocks --targets 0.0765 --student-ngf 16 \
        --dtypes fp32 int8 --runs 20 --out benchmarks/results/latency_mobile.json  # at OMGD's budget

With --generators the models are the ones compress_edges2shoes.py trained and kept (dense,
coronet_25pct, coronet_10pct: Pix2Pix on ../shared/data/edges2shoes-mini at 128x128; the networks
are fully convolutional, so they run at 256x256 as well). Without it the compact widths come from a
search alone (at --search-size, 64 by default: every layer's MACs scale by the same H*W, so the
widths that meet a MACs ratio do not depend on the resolution) and the weights are untrained.
Latency does not depend on the weights; the reduced-precision outputs' PSNR does.

Every model is exported to ONNX and, when ExecuTorch is installed, to ExecuTorch programs (XNNPACK),
in FP32, FP16 and INT8 (ONNX: static QDQ; ExecuTorch: PT2E per-channel; both calibrated on 16 real
training images at 256x256), each export's output compared with PyTorch FP32 on the validation
images (PSNR), and all are timed interleaved in one process (onnxruntime, intra-op threads =
--threads, sequential execution; ExecuTorch's XNNPACK thread pool at --threads; PyTorch eager for
reference), --repeats times; every figure is the median over the repeats of each repeat's median
(speed-ups: of the per-repeat ratios). Writes benchmarks/results/latency.json and its table,
latency.md (latency_mobile.json: latency-mobile.md).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common import environment, load, source, table, write_result
from coronet.config import RunConfig
from coronet.data import AlignedDataset, TransformConfig
from coronet.deploy import measure_interleaved, torch_runner
from coronet.deploy.formats import FORMATS
from coronet.eval import count_macs, count_params
from coronet.gan.trainer import Trainer
from coronet.models import get_generator, load_generator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "edges2shoes-mini"


def searched_widths(args, ratio: float) -> tuple[dict[str, int], dict]:
    """Widths coronet's search lands on for `ratio` (no fine-tuning: latency needs no weights)."""
    cfg = RunConfig().updated({
        "data.dataroot": str(args.data), "data.load_size": args.search_size,
        "data.crop_size": args.search_size, "data.preprocess": "resize", "data.flip": False,
        "data.batch_size": 2, "model.netG": args.netG,
        "model.ngf": args.ngf, "model.ndf": 64, "train.model": "pix2pix", "train.gan_mode": "hinge",
        "train.search": args.search_steps, "train.finetune": 0, "train.log_every": 50,
        "train.sample_every": 0, "train.checkpoint_every": 0, "prune.ratio": ratio})
    with tempfile.TemporaryDirectory() as tmp:
        summary = Trainer(cfg, Path(tmp), compress=True).run()
    g = summary.generators["G_A"].generator
    return dict(g.widths), {"search_steps": summary.steps["search"],
                            "search_size": args.search_size, "data": str(args.data)}


def input_images(args, split: str, n: int | None = None) -> np.ndarray:
    ds = AlignedDataset(args.data, split, cfg=TransformConfig(args.size, args.size, "resize", False))
    return torch.stack([ds[i]["A"] for i in range(len(ds) if n is None else min(n, len(ds)))]).numpy()


def kept_models(folder: Path, targets: list[float]) -> dict:
    """The generators compress_edges2shoes.py --keep wrote, named as this benchmark names them."""
    models = {"dense": (load_generator(folder / "dense.json"), {"target": 1.0, "weights": "trained"})}
    for ratio in targets:
        g = load_generator(folder / f"coronet_{round(ratio * 100)}pct.json")
        models[f"coronet@{ratio}"] = (g, {"target": ratio, "widths": g.widths, "weights": "trained"})
    return models


# ----------------------------------------------------------------------------- the table
RUNTIMES = {"torch": "PyTorch eager", "onnx": "ONNX Runtime", "pte": "ExecuTorch (XNNPACK)"}


def _model_name(key: str) -> str:
    """'coronet@0.25' -> 'coronet 25%'; 'ngf 16' -> 'ngf 16, uniform'."""
    if key.startswith("coronet@"):
        return f"coronet {float(key.removeprefix('coronet@')) * 100:g}%"
    return f"{key}, uniform" if key.startswith("ngf ") else key


def _runtime_cells(m: dict, runtime: str) -> list[str]:
    """Latency per data type (speed-up over dense; over FP32) and the exports' PSNR, one runtime."""
    lat, speed, over_fp32 = m["latency_ms"], m["speedup_vs_dense"], m.get("speedup_over_fp32", {})
    if runtime == "torch":
        return [f"{lat['torch']['median_ms']:.0f} ms ({speed['torch']:.2f}×)", "–", "–", "–"]
    cells = []
    for dtype in ("fp32", "fp16", "int8"):
        key = f"{runtime}_{dtype}"
        if key not in lat:
            cells.append("–")
            continue
        extra = f"; {over_fp32[key]:.2f}× FP32" if dtype != "fp32" and key in over_fp32 else ""
        cells.append(f"{lat[key]['median_ms']:.0f} ms ({speed[key]:.2f}×{extra})")
    prefix = "" if runtime == "onnx" else "pte_"
    psnr = m["export"]
    return cells + [" / ".join(f"{psnr[prefix + t]['psnr_db_vs_torch']:.1f}" if prefix + t in psnr else "–"
                               for t in ("fp32", "fp16", "int8"))]


def render(name: str) -> list[str]:
    """One row per generator and runtime: latency per data type, speed-ups, output PSNR."""
    d = load(name)
    rows = []
    for model, m in d["models"].items():
        for runtime, label in RUNTIMES.items():
            if runtime != "torch" and f"{runtime}_fp32" not in m["latency_ms"]:
                continue
            first = [_model_name(model), f"{m['macs'] / 1e9:.2f} G", f"{m['params'] / 1e6:.2f} M"]
            first = first if runtime == "torch" else ["", "", ""]
            rows.append(first + [label] + _runtime_cells(m, runtime))
    env, setup = d["environment"], d["setup"]
    versions = f"onnxruntime {env['onnxruntime']}" + (f", ExecuTorch {env['executorch']}"
                                                      if "executorch" in env else "")
    return table(["generator", "MACs", "params", "runtime", "FP32", "FP16", "INT8",
                  "PSNR vs PyTorch FP32, FP32 / FP16 / INT8 (dB)"], rows) + [
        "",
        f"`{setup['generator'].replace(' ngf', '`, ngf ')}; {env['device']}, {setup['threads']} threads, "
        f"batch 1, {setup['size'][0]}×{setup['size'][1]}, torch {env['torch']}, {versions}; median of "
        f"{setup['runs']} interleaved runs × {setup['repeats']} repeats; brackets: speed-up over dense "
        f"(same runtime and type) and, for FP16/INT8, over FP32. PSNR on {setup['psnr_images']}. "
        f"Weights: {setup['weights']}"
        f"{_training() if setup['weights'].startswith('trained') else ''}. "
        f"Source: {source(name)}.",
    ]


def _training(name: str = "compress_edges2shoes_ngf64.json") -> str:
    """How the kept generators were trained, for a table of trained weights."""
    d = load(name)
    c, psnr = d["config"], [d["dense"]["metrics"]["psnr"]] + [m["metrics"]["psnr"] for m in d["compressed"]]
    return (f" (Pix2Pix on edges2shoes-mini at {c['size']}², {c['search_steps']} search + "
            f"{c['finetune_steps']} fine-tuning steps; validation PSNR "
            + " / ".join(f"{v:.2f}" for v in psnr) + f" dB; {source(name)})")


TABLES = {"latency": lambda: render("latency.json"), "latency-mobile": lambda: render("latency_mobile.json")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--netG", default="resnet_9blocks")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--student-ngf", type=int, nargs="*", default=[],
                   help="also time the dense generator of the same family at these ngf (e.g. 16, "
                        "OMGD's mobile student at 1.408 G MACs)")
    p.add_argument("--targets", type=float, nargs="+", default=[0.25, 0.1])
    p.add_argument("--size", type=int, default=256, help="latency input size")
    p.add_argument("--search-size", type=int, default=64)
    p.add_argument("--search-steps", type=int, default=600)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3,
                   help="independent interleaved measurements; figures are medians over them")
    p.add_argument("--formats", nargs="+", default=["onnx", "pte"], choices=("onnx", "pte"))
    p.add_argument("--dtypes", nargs="+", default=["fp32", "fp16", "int8"], choices=("fp32", "fp16", "int8"))
    p.add_argument("--generators", type=Path, default=None,
                   help="the --keep folder of compress_edges2shoes.py (trained weights)")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latency.json")
    args = p.parse_args()
    if "fp32" not in args.dtypes:
        p.error("--dtypes must include fp32: every speed-up is against it")
    torch.manual_seed(0)
    size = (args.size, args.size)

    if args.generators is not None:
        models = kept_models(args.generators, args.targets)
    else:
        models = {"dense": (get_generator(args.netG, ngf=args.ngf), {"target": 1.0, "weights": "untrained"})}
        for ratio in args.targets:
            widths, how = searched_widths(args, ratio)
            models[f"coronet@{ratio}"] = (get_generator(args.netG, widths=widths, ngf=args.ngf),
                                          {"target": ratio, "widths": widths, "weights": "untrained", **how})
    for ngf in args.student_ngf:  # the published students: the same family, uniformly thinner
        models[f"ngf {ngf}"] = (get_generator(args.netG, ngf=ngf), {"target": None, "weights": "untrained"})
    calibration, check_images = input_images(args, "train", 16), input_images(args, "test")
    runners, rows = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (g, info) in tqdm(models.items(), desc="export"):
            g.eval()
            checks = {}
            for fmt in args.formats:
                for dtype in args.dtypes:
                    path = Path(tmp) / f"{name}.{dtype}.{fmt}"
                    check = FORMATS[fmt].export(g, path, size, dtype, calibration=calibration,
                                                check_images=check_images)
                    key = dtype if fmt == "onnx" else f"{fmt}_{dtype}"
                    checks[key] = {"psnr_db_vs_torch": check.psnr_db, "bytes": path.stat().st_size}
                    runners[f"{name}|{fmt}_{dtype}"] = FORMATS[fmt].runner(path, size, args.threads)
            runners[f"{name}|torch"] = torch_runner(g, size, args.threads)
            rows[name] = {**info, "macs": count_macs(g, size), "params": count_params(g), "export": checks}
        repeats = []  # each repeat: every runner interleaved, `runs` rounds; its medians
        with tqdm(total=args.runs * args.repeats, desc="latency (interleaved)") as bar:
            for _ in range(args.repeats):
                repeats.append(measure_interleaved(runners, runs=args.runs, warmup=args.warmup,
                                                   progress=lambda _: bar.update()))

    def median_of(values) -> float:
        return float(np.median(list(values)))

    backends = ("torch", *(f"{fmt}_{dtype}" for fmt in args.formats for dtype in args.dtypes))
    dense = rows["dense"]
    for name, row in rows.items():
        speedups = {b: [t[f"dense|{b}"]["median_ms"] / t[f"{name}|{b}"]["median_ms"] for t in repeats]
                    for b in backends}
        row["latency_ms"] = {b: {"median_ms": median_of(t[f"{name}|{b}"]["median_ms"] for t in repeats),
                                 "per_repeat": [t[f"{name}|{b}"] for t in repeats]} for b in backends}
        row["achieved_ratio"] = row["macs"] / dense["macs"]
        row["macs_reduction"] = dense["macs"] / row["macs"]
        row["speedup_vs_dense"] = {b: median_of(v) for b, v in speedups.items()}
        row["speedup_vs_dense_per_repeat"] = speedups
        row["fp32_speedup_share_of_macs_reduction"] = (row["speedup_vs_dense"]["onnx_fp32"]
                                                       / row["macs_reduction"])
        row["speedup_over_fp32"] = {f"{fmt}_{dtype}": median_of(
            t[f"{name}|{fmt}_fp32"]["median_ms"] / t[f"{name}|{fmt}_{dtype}"]["median_ms"] for t in repeats)
            for fmt in args.formats for dtype in args.dtypes}
        if name != "dense":
            row["meets_70pct_criterion"] = row["fp32_speedup_share_of_macs_reduction"] >= 0.7
        cells = [f"{b} {row['latency_ms'][b]['median_ms']:.1f} ms (x{row['speedup_vs_dense'][b]:.2f} dense"
                 + (f", x{row['speedup_over_fp32'][b]:.2f} FP32)" if b != "torch" else ")") for b in backends]
        print(f"{name:14s} MACs {row['macs'] / 1e9:6.2f} G ({row['achieved_ratio']:.4f}); "
              + ", ".join(cells), flush=True)
    import onnxruntime

    env = {**environment(), "threads": args.threads, "onnxruntime": onnxruntime.__version__}
    if "pte" in args.formats:
        from importlib.metadata import version

        env["executorch"] = version("executorch")
    write_result(args.out, {
        "environment": env,
        "setup": {"generator": f"{args.netG} ngf{args.ngf}", "size": list(size), "batch": 1,
                  "runs": args.runs, "repeats": args.repeats, "warmup": args.warmup, "interleaved": True,
                  "threads": args.threads,
                  "onnxruntime": "CPUExecutionProvider, sequential, intra_op_num_threads=threads",
                  "int8": "static QDQ, per-channel int8 weights, uint8 activations, 16 calibration images",
                  "executorch": "XNNPACK delegate after coronet.deploy.rewrite; INT8: PT2E, XNNPACKQuantizer "
                                "symmetric per-channel, the same 16 calibration images",
                  "psnr_images": f"{len(check_images)} validation inputs of {args.data.name}",
                  "weights": (f"trained: the generators compress_edges2shoes.py kept in "
                              f"{args.generators.name}" if args.generators is not None else
                              "untrained: PyTorch's initialisation at the dense and the searched widths "
                              "(latency does not depend on the weights; the reduced precisions' PSNR does)")},
        "models": rows,
    }, {k: t for k, t in TABLES.items() if k == args.out.stem.replace("_", "-")})


if __name__ == "__main__":
    main()
