"""`coronet bench`: CPU latency of a run's exported generator in PyTorch eager and in the runtime of
every file `coronet export` wrote (onnxruntime, ExecuTorch), interleaved with a reference: the
dense generator of the same architecture (built from the run's description: latency does not depend
on the weights) or, with `--vs`, another run. The speed-up sits next to the MACs ratio, so "is the
compressed model faster here?" has one honest answer."""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from coronet.cli.arguments import reclaim_positional
from coronet.deploy import DTYPES, measure_interleaved, torch_runner
from coronet.deploy.formats import BACKENDS, FORMATS
from coronet.errors import CheckpointError, ConfigError
from coronet.eval import COUNTER, count_macs, count_params
from coronet.models import check_size, get_generator, load_generator, read_generator_meta
from coronet.runs import RunDir, exported_generators


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="CPU latency of exported generators in every runtime",
                       description="Median CPU latency at batch 1 after warm-up of a run's generator "
                                   "in PyTorch eager and, for each file `coronet export` wrote, in its "
                                   "runtime (onnxruntime, ExecuTorch), interleaved with the dense "
                                   "generator of the same architecture (or, with --vs, another run), "
                                   "and the speed-up beside the MACs ratio.")
    p.add_argument("run", type=Path, nargs="?", metavar="RUN_DIR",
                   help="a run folder, or one exported generator (.json)")
    p.add_argument("--vs", type=Path, metavar="RUN_DIR",
                   help="compare with this run folder or generator instead of the dense model")
    p.add_argument("--generator", default="G_A", choices=("G_A", "G_B"), help="which generator of the run")
    p.add_argument("--size", type=int, help="input size (default: the training size)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="intra-op threads for both runtimes (default: %(default)s)")
    p.add_argument("--runs", type=int, default=50, help="timed calls per model (interleaved)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per model first")
    p.add_argument("--backends", nargs="+", metavar="BACKEND",
                   help=f"some of {', '.join(BACKENDS)} (default: torch and every exported file)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _model(path: Path, generator: str) -> tuple[Path, RunDir | None, Path]:
    """(generator .json, the run folder or None, the folder holding onnx/ and pte/) of a run folder
    or a generator file."""
    if path.is_dir():
        run_dir = RunDir.finished(path, "bench")
        files = exported_generators(run_dir)
        if generator not in files:
            raise CheckpointError(f"{path} has no exported {generator} (it has {', '.join(files)}); "
                                  f"pick one with --generator")
        return files[generator], run_dir, run_dir.path
    meta = path.with_suffix(".json")
    read_generator_meta(meta)
    return meta, None, path.parent


NOISY = 1.5  # p90 / p10 above this: the machine was busy; the median is less trustworthy


def _name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _runners(label: str, path: Path, args: argparse.Namespace, size: int) -> tuple[dict, dict]:
    meta, _, folder = _model(path, args.generator)
    g = load_generator(meta)
    info = {"path": str(path), "name": _name(path), "macs": count_macs(g, (size, size)),
            "params": count_params(g)}
    runners = {}
    wanted = args.backends or BACKENDS
    if "torch" in wanted:
        runners[f"{label}|torch"] = torch_runner(g, (size, size), args.threads)
    for fmt in FORMATS.values():
        for dtype in DTYPES:
            backend, artefact = fmt.backend(dtype), fmt.path(folder, meta.stem, dtype)
            if backend in wanted and artefact.is_file():
                runners[f"{label}|{backend}"] = fmt.runner(artefact, (size, size), args.threads)
            elif args.backends and backend in args.backends:
                raise ConfigError(f"{artefact} not found; run `coronet export {path} --format {fmt.name} "
                                  f"--dtype {dtype}` first")
    return info, runners


def run(args: argparse.Namespace) -> int:
    if args.backends is not None:
        args.backends, args.run = reclaim_positional(args.backends, args.run, BACKENDS, "--backends",
                                                     "RUN_DIR")
    elif args.run is None:
        raise ConfigError("give RUN_DIR (a run folder or an exported generator .json)")
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        raise ConfigError("--runs and --threads must be >= 1 and --warmup >= 0")
    meta, run_dir, _ = _model(args.run, args.generator)
    with run_dir.writing("bench") if run_dir is not None else contextlib.nullcontext():
        return _bench(args, meta, run_dir)


def _bench(args: argparse.Namespace, meta: Path, run_dir: RunDir | None) -> int:
    described = read_generator_meta(meta)
    size = args.size if args.size is not None else described.get("input_size") or 256
    check_size(described["name"], size, "--size")
    torch.set_num_threads(args.threads)
    models, runners = {}, {}
    for label, path in (("run", args.run), ("vs", args.vs)):
        if path is not None:
            models[label], extra = _runners(label, path, args, size)
            runners.update(extra)
    reference = "vs" if args.vs is not None else "dense"
    with tempfile.TemporaryDirectory() as tmp:
        if args.vs is None:
            models["dense"], extra = _dense_runners(described, runners, args, size, Path(tmp))
            runners.update(extra)
        return _timed(args, models, runners, reference, size, run_dir)


def _dense_runners(described: dict[str, Any], timed: dict, args: argparse.Namespace, size: int,
                   folder: Path) -> tuple[dict, dict]:
    """The dense generator the run was compressed from, in every runtime the run is timed in. Its
    weights are PyTorch's initialisation and its INT8 scales come from random images: the latency of
    a convolution does not depend on its values."""
    g = get_generator(described["name"], **described.get("kwargs", {})).eval()
    info = {"path": "dense, built from the run's generator description", "name": "dense",
            "macs": count_macs(g, (size, size)), "params": count_params(g)}
    runners = {}
    images = np.random.default_rng(0).uniform(-1, 1, (4, 3, size, size)).astype(np.float32)
    for backend in sorted({key.split("|")[1] for key in timed}):
        if backend == "torch":
            runners["dense|torch"] = torch_runner(g, (size, size), args.threads)
            continue
        runtime, dtype = backend.rsplit("-", 1)
        fmt = next(f for f in FORMATS.values() if f.runtime == runtime)
        print(f"bench: exporting the dense model for {backend} (the reference to time against)",
              file=sys.stderr, flush=True)
        path = fmt.path(folder, "dense", dtype)
        fmt.export(g, path, (size, size), dtype, calibration=images, check_images=images[:1])
        runners[f"dense|{backend}"] = fmt.runner(path, (size, size), args.threads)
    return info, runners


def _timed(args: argparse.Namespace, models: dict, runners: dict, reference: str, size: int,
           run_dir: RunDir | None) -> int:
    if args.vs is not None:
        for backend in sorted({k.split("|")[1] for k in runners}):
            for label, other in (("run", "vs"), ("vs", "run")):
                if f"{label}|{backend}" in runners and f"{other}|{backend}" not in runners:
                    path = args.run if other == "run" else args.vs
                    runtime, dtype = backend.rsplit("-", 1)
                    fmt = next(f for f in FORMATS.values() if f.runtime == runtime)
                    print(f"note: {path} has no {dtype} {fmt.name} file, so {backend} is timed for one "
                          f"model only; run `coronet export {path} --format {fmt.name} --dtype {dtype}` "
                          f"to compare both", file=sys.stderr)
    with tqdm(total=args.runs, desc="bench", unit="round", mininterval=2.0, leave=False) as bar:
        timed = measure_interleaved(runners, args.runs, args.warmup, progress=lambda _: bar.update(1))
    result: dict[str, Any] = {
        "device": f"cpu ({platform.processor() or platform.machine()})", "threads": args.threads,
        "batch": 1, "size": [size, size], "runs": args.runs, "warmup": args.warmup,
        "counter": COUNTER, "generator": args.generator, "models": models,
        "latency_ms": timed, "reference": reference, "speedup": {},
        "macs_ratio": models[reference]["macs"] / models["run"]["macs"],
        "noisy": {key: t["p90_ms"] / t["p10_ms"] for key, t in timed.items()
                  if t["p10_ms"] > 0 and t["p90_ms"] / t["p10_ms"] > NOISY}}
    for key in timed:
        label, backend = key.split("|")
        other = f"{reference}|{backend}"
        if label == "run" and other in timed:
            result["speedup"][backend] = timed[other]["median_ms"] / timed[key]["median_ms"]
    if run_dir is not None:
        report = run_dir.read_report()
        result["psnr_db"] = _export_psnr(report, args.generator, timed)
        _plot(result, run_dir.file(f"latency_{args.generator}.png"))
        run_dir.update_report({"latency": {**report.get("latency", {}), args.generator: result}})
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _plot(result: dict[str, Any], path: Path) -> None:
    """Latency against MACs, one line per runtime and data type (two points with --vs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coronet.files import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.6))
    backends = dict.fromkeys(key.split("|")[1] for key in result["latency_ms"])
    for backend in backends:
        points = sorted((result["models"][label]["macs"] / 1e9, result["latency_ms"][f"{label}|{backend}"]
                         ["median_ms"]) for label in result["models"]
                        if f"{label}|{backend}" in result["latency_ms"])
        ax.plot(*zip(*points, strict=True), marker="o", label=backend)
    for label, model in result["models"].items():  # which point is which model
        ax.axvline(model["macs"] / 1e9, color="#bbbbbb", linewidth=0.8, zorder=0)
        ax.annotate(model.get("name", label), (model["macs"] / 1e9, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=7)
    ax.set_xlabel("GMACs")
    ax.set_ylabel("median latency (ms)")
    ax.set_title(f"{result['generator']}, {result['threads']} threads, batch 1, "
                 f"{result['size'][0]}x{result['size'][1]}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _export_psnr(report: dict[str, Any], generator: str, timed: dict[str, Any]) -> dict[str, float]:
    """Per timed backend of this run: its file's output PSNR against PyTorch FP32, as exported."""
    checks = {fmt.backend(dtype): check["psnr_db"] for fmt in FORMATS.values()
              for dtype, check in report.get(fmt.name, {}).get(generator, {}).items()}
    return {backend: checks[backend] for backend in (key.split("|")[1] for key in timed
                                                     if key.startswith("run|")) if backend in checks}


def _table(result: dict[str, Any]) -> str:
    lines = [f"{result['device']}, {result['threads']} threads, batch 1, "
             f"{result['size'][0]}x{result['size'][1]}, median of {result['runs']} interleaved runs "
             f"after {result['warmup']} warm-up"]
    names = {label: model.get("name", label) for label, model in result["models"].items()}
    width = max(len(n) for n in names.values())
    for label, model in result["models"].items():
        lines.append(f"  {names[label]}: {model['path']}  {model['macs'] / 1e9:.3f} GMACs, "
                     f"{model['params'] / 1e6:.3f} M params")
    noisy = result.get("noisy", {})
    for key, t in result["latency_ms"].items():
        label, backend = key.split("|")
        psnr = result.get("psnr_db", {}).get(backend) if label == "run" else None
        lines.append(f"  {names[label]:>{width}} {backend:<20} {t['median_ms']:9.2f} ms  "
                     f"(p10 {t['p10_ms']:.2f}, p90 {t['p90_ms']:.2f})"
                     + (f"  output {psnr:.1f} dB vs PyTorch FP32" if psnr is not None else "")
                     + ("  NOISY" if key in noisy else ""))
    reference = names.get(result.get("reference", "vs"), "the reference")
    for backend, s in result.get("speedup", {}).items():
        lines.append(f"  speed-up over {reference}, {backend}: {s:.2f}x  (MACs {result['macs_ratio']:.2f}x "
                     f"fewer)")
    if noisy:
        spread = ", ".join(f"{k} {v:.1f}" for k, v in noisy.items())
        lines.append(f"  NOISY: p90/p10 above {NOISY} ({spread}): other programs were using the CPU; "
                     f"close them or raise --runs, and time again")
    return "\n".join(lines)
