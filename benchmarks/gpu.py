"""On a CUDA GPU: `train.compile` against eager for the GAN steps, and inference latency.

The training-step costs themselves (generator and GAN steps, search against dense, operators,
memory) are `train_step.py --device cuda`; this script adds what only a GPU shows:
1. The GAN steps with `train.compile` (torch.compile of the generators) against without, for the
   dense run and the search (sections `compile_pix2pix`, `compile_cyclegan`).
2. Inference latency of the dense generator against the compact ones, batch 1 and 8, FP32 and FP16,
   PyTorch eager and CUDA-graph replay (which removes the per-kernel launch cost that dominates
   small models at batch 1).

The compact widths are the ones coronet's search chose in `benchmarks/results/latency.json` (the
CPU latency benchmark), so both devices time the same architectures. Every section interleaves its
models call by call, so clock changes hit all alike; figures are medians. Training runs with
`deterministic=False` and cuDNN autotuning, as a GPU user would run it. Its table, gpu.md, reads
gpu_h200.json, gpu_compile_h200.json and train_step_h200.json (`train_step.py --device cuda`).

    python benchmarks/gpu.py --out benchmarks/results/gpu_h200.json       # on a CUDA machine
    python benchmarks/gpu.py --device cpu --ngf 8 --size 32 --reps 2 --sections latency  # dry run
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import RESULTS, environment, load, source, table, write_result
from coronet.eval import count_macs, count_params
from coronet.gan.trainer import Trainer
from coronet.models import get_generator
from train_step import config_for, fixed_batch, searched_widths, sync
from train_step import timed as wall_clock

NETG = "resnet_9blocks"


def median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def call_by_call(models: dict, one, args) -> dict[str, list[float]]:
    """Warm every model up, then time them call by call: seconds per call, per model."""
    for m in models.values():
        for _ in range(args.warmup):
            one(m)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.reps):
        for name, m in models.items():
            times[name].append(one(m))
    return times


# ------------------------------------------------------------------ 2b. train.compile
def compile_step(args, model: str) -> dict:
    """The GAN step with `train.compile` (torch.compile of the generators) against without, for the
    dense run and the search. The first step of each is timed alone (it compiles: cold caches on a
    fresh machine), then all four are timed call by call. The peak memory is the step's own: the
    peak above what was allocated before it, with the others resident."""
    import torch._dynamo

    torch._dynamo.config.recompile_limit = 64  # every instance compiles its own graph
    torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as tmp:
        batch = fixed_batch(args, model)
        trainers, first_s, first_losses = {}, {}, {}
        for compiled in (False, True):
            for compress in (False, True):
                name = ("search" if compress else "dense") + ("+compile" if compiled else "")
                cfg = config_for(args, model).updated({"train.compile": compiled})
                t = trainers[name] = Trainer(cfg, Path(tmp) / name.replace("+", "_"), compress=compress)
                sync(args.device)
                start = time.perf_counter()
                first_losses[name] = t.train_step(batch)  # its losses, so not timed_step
                sync(args.device)
                first_s[name] = time.perf_counter() - start
                print(f"{model} {name}: first step {first_s[name]:.1f} s", flush=True)
        times = call_by_call(trainers, lambda t: wall_clock(lambda: t.train_step(batch), args.device), args)
        step_peak: dict[str, int | None] = {}
        for name, t in trainers.items():
            if args.device.startswith("cuda"):
                before = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                t.train_step(batch)
                torch.cuda.synchronize()
                step_peak[name] = torch.cuda.max_memory_allocated() - before
            else:
                step_peak[name] = None
    torch.backends.cudnn.benchmark = False
    rows = {name: {"median_ms": median_ms(times[name]), "first_step_s": first_s[name],
                   "step_peak_memory_bytes": step_peak[name], "first_step_losses": first_losses[name]}
            for name in trainers}
    for name, row in rows.items():
        row["over_dense"] = row["median_ms"] / rows["dense"]["median_ms"]
        row["over_eager"] = row["median_ms"] / rows[name.removesuffix("+compile")]["median_ms"]
    # the same initial weights (seeded) and batch: compiled and eager see the same first losses
    rows["first_step_max_rel_loss_diff"] = {
        kind: max(abs(first_losses[f"{kind}+compile"][k] - v) / max(abs(v), 1e-12)
                  for k, v in first_losses[kind].items() if k.startswith("loss/"))
        for kind in ("dense", "search")}
    print(f"{model} compile: " + ", ".join(f"{n} {r['median_ms']:.1f} ms ({r['over_dense']:.2f}x dense)"
                                          for n, r in rows.items() if "median_ms" in r), flush=True)
    return rows


# ------------------------------------------------------------------ 3. latency
def runner(model: torch.nn.Module, x: torch.Tensor, graph: bool):
    if not graph:
        return lambda: model(x)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        model(x)
    return g.replay


def timed(fn, device: str) -> float:
    if not device.startswith("cuda"):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    fn()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end) / 1e3


def latency(args, widths: dict[float, dict[str, int]]) -> dict:
    torch.backends.cudnn.benchmark = True
    size = (args.size, args.size)
    nets = {"dense": get_generator(NETG, ngf=args.ngf)}
    nets.update({f"coronet@{r}": get_generator(NETG, widths=w, ngf=args.ngf) for r, w in widths.items()})
    info = {n: {"macs_batch1": count_macs(g, size), "params": count_params(g)} for n, g in nets.items()}
    cuda = args.device.startswith("cuda")
    dtypes = ("fp32", "fp16") if cuda else ("fp32",)
    modes = ("eager", "graph") if cuda else ("eager",)
    out = {}
    for batch in args.batches:
        for dtype in dtypes:
            for mode in modes:
                key = f"batch{batch}|{dtype}|{mode}"
                runners = {}
                with torch.no_grad():
                    for name, g in nets.items():
                        m = g.to(args.device).eval()
                        m = m.half() if dtype == "fp16" else m.float()
                        x = torch.randn(batch, 3, *size, device=args.device,
                                        dtype=torch.float16 if dtype == "fp16" else torch.float32)
                        runners[name] = runner(m, x, mode == "graph")
                    for _ in range(args.warmup):
                        for run in runners.values():
                            run()
                    times = {name: [] for name in runners}
                    for _ in range(args.runs):
                        for name, run in runners.items():
                            times[name].append(timed(run, args.device))
                dense = median_ms(times["dense"])
                out[key] = {name: {"median_ms": median_ms(t), "speedup_vs_dense": dense / median_ms(t),
                                   "macs_reduction": info["dense"]["macs_batch1"] / info[name]["macs_batch1"]}
                            for name, t in times.items()}
                print(f"latency {key}: " + ", ".join(
                    f"{n} {r['median_ms']:.2f} ms "
                    f"(x{r['speedup_vs_dense']:.2f} / MACs x{r['macs_reduction']:.1f})"
                    for n, r in out[key].items()), flush=True)
    torch.backends.cudnn.benchmark = False
    return {"models": info, "timings": out}


def gpu_table() -> list[str]:
    d, steps, comp = load("gpu_h200.json"), load("train_step_h200.json"), load("gpu_compile_h200.json")
    rows = []
    for model in ("pix2pix", "cyclegan"):
        r, k = steps[model]["rows"], comp[f"compile_{model}"]
        rows.append([model, f"{r['dense']['median_ms']:.1f} ms", f"{r['search']['over_dense']:.2f}×",
                     f"{r['finetune@0.25']['over_dense']:.2f}× / {r['finetune@0.1']['over_dense']:.2f}×",
                     f"{r['search']['step_peak_above_held_over_dense']:.2f}×",
                     f"{k['search+compile']['over_dense']:.2f}×"])
    lat = d["latency"]["timings"]
    speed = {mode: {n: v["speedup_vs_dense"] for n, v in lat[f"batch1|fp32|{mode}"].items()}
             for mode in ("eager", "graph")}
    env = steps["environment"]
    return table(["GAN training step", "dense step", "search / dense", "fine-tune 25% / 10% over dense",
                  "search step's memory / dense", "search with train.compile / dense (its own run)"],
                 rows) + [
        "",
        f"Inference at batch 1, FP32: compact over dense {speed['eager']['coronet@0.25']:.2f}× "
        f"(25%) and {speed['eager']['coronet@0.1']:.2f}× (10%) in eager PyTorch, "
        f"{speed['graph']['coronet@0.25']:.2f}× and {speed['graph']['coronet@0.1']:.2f}× with a CUDA graph.",
        "",
        f"ResNet-9 ngf 64, 256×256, batch 1, {env['device'].removeprefix('cuda:')}, torch {env['torch']}. "
        f"Sources: {source('train_step_h200.json', 'gpu_compile_h200.json')}, "
        f"latency {source('gpu_h200.json')}."]


TABLES = {"gpu": gpu_table}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--reps", type=int, default=30, help="timed training steps per model")
    p.add_argument("--runs", type=int, default=200, help="timed inference calls per model")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--sections", nargs="+", default=["compile_pix2pix", "compile_cyclegan", "latency"])
    p.add_argument("--out", type=Path, default=RESULTS / "gpu.json")
    args = p.parse_args()
    args.netG, args.hypernet = NETG, "lean"  # what train_step's config_for reads
    widths = searched_widths(args.ngf)
    env = environment()
    if args.device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        env.update({"gpu": props.name, "gpu_memory_bytes": props.total_memory,
                    "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                    "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                    "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32})
    result = {"benchmark": "gpu", "environment": env,
              "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "widths": {str(r): w for r, w in widths.items()}}
    sections = {"latency": lambda: latency(args, widths),
                "compile_pix2pix": lambda: compile_step(args, "pix2pix"),
                "compile_cyclegan": lambda: compile_step(args, "cyclegan")}
    for name in args.sections:  # one failing section must not lose the others' figures
        try:
            result[name] = sections[name]()
        except Exception as e:  # noqa: BLE001 - recorded in the result and printed
            result[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name} failed: {type(e).__name__}: {e}", flush=True)
        last = name == args.sections[-1] and args.out.name == "gpu_h200.json"
        write_result(args.out, result, TABLES if last else None)


if __name__ == "__main__":
    main()
