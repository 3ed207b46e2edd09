"""`coronet bench`: CPU latency of a run's exported generator in PyTorch eager and in the runtime of
every file `coronet export` wrote (onnxruntime, ExecuTorch); with `--vs`, two models interleaved in
one run and their ratio set next to their MACs ratio, so "is the compressed model faster here?" has
one honest answer."""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from coronet.deploy import DTYPES, measure_interleaved, torch_runner
from coronet.deploy.formats import BACKENDS, FORMATS
from coronet.errors import CheckpointError, ConfigError
from coronet.eval import COUNTER, count_macs, count_params
from coronet.models import check_size, load_generator, read_generator_meta
from coronet.runs import RunDir, exported_generators


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="CPU latency of exported generators in every runtime",
                       description="Median CPU latency at batch 1 after warm-up of a run's generator "
                                   "in PyTorch eager and, for each file `coronet export` wrote, in its "
                                   "runtime (onnxruntime, ExecuTorch). --vs OTHER interleaves a second "
                                   "run (or generator file) and reports the speed-up beside the MACs "
                                   "ratio.")
    p.add_argument("run", type=Path, help="a run folder, or one exported generator (.json)")
    p.add_argument("--vs", type=Path, help="a second run folder or generator to compare with")
    p.add_argument("--generator", default="G_A", choices=("G_A", "G_B"))
    p.add_argument("--size", type=int, help="input size (default: the training size)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="intra-op threads for both runtimes (default: %(default)s)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--backends", nargs="+", choices=BACKENDS,
                   help="default: torch and every exported file (onnxruntime-*, executorch-*)")
    p.add_argument("--json", action="store_true")


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


def _runners(label: str, path: Path, args: argparse.Namespace, size: int) -> tuple[dict, dict]:
    meta, _, folder = _model(path, args.generator)
    g = load_generator(meta)
    info = {"path": str(path), "macs": count_macs(g, (size, size)), "params": count_params(g)}
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
        "latency_ms": timed}
    if args.vs is not None:
        result["speedup"] = {}
        for key in timed:
            label, backend = key.split("|")
            other = f"vs|{backend}"
            if label == "run" and other in timed:
                result["speedup"][backend] = timed[other]["median_ms"] / timed[key]["median_ms"]
        result["macs_ratio"] = models["vs"]["macs"] / models["run"]["macs"]
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
    for label, model in result["models"].items():
        lines.append(f"  {label}: {model['path']}  {model['macs'] / 1e9:.3f} GMACs, "
                     f"{model['params'] / 1e6:.3f} M params")
    for key, t in result["latency_ms"].items():
        label, backend = key.split("|")
        psnr = result.get("psnr_db", {}).get(backend) if label == "run" else None
        lines.append(f"  {label:>3} {backend:<20} {t['median_ms']:9.2f} ms  "
                     f"(p10 {t['p10_ms']:.2f}, p90 {t['p90_ms']:.2f})"
                     + (f"  output {psnr:.1f} dB vs PyTorch FP32" if psnr is not None else ""))
    for backend, s in result.get("speedup", {}).items():
        lines.append(f"  latency vs / run, {backend}: {s:.2f}x  (MACs vs / run: {result['macs_ratio']:.2f}x)")
    return "\n".join(lines)
