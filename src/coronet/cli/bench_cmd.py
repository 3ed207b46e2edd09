"""`coronet bench`: CPU latency of a run's exported generator, PyTorch eager and onnxruntime in
every exported data type; with `--vs`, two models interleaved in one run and their ratio set
next to their MACs ratio, so "is the compressed model faster here?" has one honest answer."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from coronet.deploy import DTYPES, measure_interleaved, onnx_runner, torch_runner
from coronet.errors import CheckpointError, ConfigError
from coronet.eval import COUNTER, count_macs, count_params
from coronet.files import atomic_write
from coronet.models import load_generator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="CPU latency of exported generators (PyTorch and onnxruntime)",
                       description="Median CPU latency at batch 1 after warm-up of a run's generator "
                                   "in PyTorch eager and in onnxruntime for each ONNX file `coronet "
                                   "export` wrote. --vs OTHER interleaves a second run (or generator "
                                   "file) and reports the speed-up beside the MACs ratio.")
    p.add_argument("run", type=Path, help="a run folder, or one exported generator (.json)")
    p.add_argument("--vs", type=Path, help="a second run folder or generator to compare with")
    p.add_argument("--generator", default="G_A", choices=("G_A", "G_B"))
    p.add_argument("--size", type=int, help="input size (default: the training size)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="intra-op threads for both runtimes (default: %(default)s)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--backends", nargs="+", choices=("torch", *DTYPES),
                   help="default: torch and every exported ONNX data type")
    p.add_argument("--json", action="store_true")


def _model(path: Path, generator: str) -> tuple[Path, Path | None, Path]:
    """(generator .json, report.json or None, onnx folder) of a run folder or a generator file."""
    if path.is_dir():
        meta = path / f"{generator}.json"
        report = path / "report.json"
        if not meta.is_file():
            raise CheckpointError(f"{path} has no exported {generator}; is it a finished coronet run?")
        return meta, report if report.is_file() else None, path / "onnx"
    meta = path.with_suffix(".json")
    if not meta.is_file():
        raise CheckpointError(f"{meta} not found; give a run folder or an exported generator (.json)")
    return meta, None, path.parent / "onnx"


def _runners(label: str, path: Path, args: argparse.Namespace, size: int) -> tuple[dict, dict]:
    meta, _, onnx_dir = _model(path, args.generator)
    g = load_generator(meta)
    info = {"path": str(path), "macs": count_macs(g, (size, size)), "params": count_params(g)}
    runners = {}
    wanted = args.backends or ("torch", *DTYPES)
    if "torch" in wanted:
        runners[f"{label}|torch"] = torch_runner(g, (size, size), args.threads)
    for dtype in DTYPES:
        onnx = onnx_dir / f"{meta.stem}.{dtype}.onnx"
        if dtype in wanted and onnx.is_file():
            runners[f"{label}|onnxruntime-{dtype}"] = onnx_runner(onnx, (size, size), args.threads)
        elif args.backends and dtype in args.backends:
            raise ConfigError(f"{onnx} not found; run `coronet export {path} --dtype {dtype}` first")
    return info, runners


def run(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        raise ConfigError("--runs and --threads must be >= 1 and --warmup >= 0")
    meta, report_path, _ = _model(args.run, args.generator)
    size = args.size or json.loads(meta.read_text()).get("input_size") or 256
    torch.set_num_threads(args.threads)
    models, runners = {}, {}
    for label, path in (("run", args.run), ("vs", args.vs)):
        if path is not None:
            models[label], extra = _runners(label, path, args, size)
            runners.update(extra)
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
    if report_path is not None:
        report = json.loads(report_path.read_text())
        report.setdefault("latency", {})[args.generator] = result
        atomic_write(report_path, lambda p: p.write_text(json.dumps(report, indent=2) + "\n"))
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(result: dict[str, Any]) -> str:
    lines = [f"{result['device']}, {result['threads']} threads, batch 1, "
             f"{result['size'][0]}x{result['size'][1]}, median of {result['runs']} interleaved runs "
             f"after {result['warmup']} warm-up"]
    for label, model in result["models"].items():
        lines.append(f"  {label}: {model['path']}  {model['macs'] / 1e9:.3f} GMACs, "
                     f"{model['params'] / 1e6:.3f} M params")
    for key, t in result["latency_ms"].items():
        label, backend = key.split("|")
        lines.append(f"  {label:>3} {backend:<20} {t['median_ms']:9.2f} ms  "
                     f"(p10 {t['p10_ms']:.2f}, p90 {t['p90_ms']:.2f})")
    for backend, s in result.get("speedup", {}).items():
        lines.append(f"  latency vs / run, {backend}: {s:.2f}x  (MACs vs / run: {result['macs_ratio']:.2f}x)")
    return "\n".join(lines)
