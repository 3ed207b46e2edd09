"""The full-size figures on a GPU: ResNet-9 ngf 64 at 256x256, training step time and latency.

1. Generator step (the CPU benchmark `train_step.py` on the GPU): dense against hyper-model.
2. Whole GAN training step, Pix2Pix and CycleGAN, as `coronet compress` runs it (generator and
   discriminator losses, both Adam steps, the proximal step in the search): the dense run, the
   search (hyper-generators), and fine-tuning of the compact generators at 25% and 10% of the MACs.
   One fixed batch of the built-in data is reused, so data loading is not timed.
2b. The same GAN steps with `train.compile` (torch.compile of the generators) against without
   (sections `compile_pix2pix`, `compile_cyclegan`; not in the default run).
3. Inference latency of the dense generator against the compact ones, batch 1 and 8, FP32 and FP16,
   PyTorch eager and CUDA-graph replay (which removes the per-kernel launch cost that dominates
   small models at batch 1).

The compact widths are the ones coronet's search chose in `benchmarks/results/latency.json` (the
CPU latency benchmark), so both devices time the same architectures. Every section interleaves its
models call by call, so clock changes hit all alike; figures are medians. Training runs with
`deterministic=False` and cuDNN autotuning, as a GPU user would run it.

    python benchmarks/gpu.py --out benchmarks/results/gpu_h200.json       # on a CUDA machine
    python benchmarks/gpu.py --markdown benchmarks/results/gpu_h200.json  # the README's tables
    python benchmarks/gpu.py --device cpu --ngf 8 --size 32 --reps 2    # a dry run of the code
    python benchmarks/gpu.py --sections compile_pix2pix compile_cyclegan \
        --out benchmarks/results/gpu_compile_h200.json                    # train.compile on and off
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

import train_step
from common import environment, write_result
from coronet.config import RunConfig
from coronet.eval import count_macs, count_params
from coronet.gan import setup
from coronet.gan.trainer import Trainer
from coronet.models import get_generator

NETG = "resnet_9blocks"
WIDTHS = Path(__file__).parent / "results" / "latency.json"
TARGETS = (0.25, 0.1)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def searched_widths(ngf: int) -> dict[float, dict[str, int]]:
    """The widths of latency.json (searched for ngf 64), scaled when a dry run uses another ngf."""
    models = json.loads(WIDTHS.read_text())["models"]
    out = {}
    for ratio in TARGETS:
        widths = models[f"coronet@{ratio}"]["widths"]
        out[ratio] = {k: (v if k.startswith("rgb") else max(1, v * ngf // 64)) for k, v in widths.items()}
    return out


def alone_peak_bytes(device: str, build, step) -> int | None:
    """Peak GPU memory of a training step with this model alone on the GPU (its weights, gradients
    and optimiser state included). The timed runs keep every model resident at once, so their
    peaks would include the others'."""
    if not device.startswith("cuda"):
        return None
    gc.collect()
    torch.cuda.empty_cache()
    model = build()
    for _ in range(2):  # allocates gradients and Adam's state
        step(model)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step(model)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model
    gc.collect()
    torch.cuda.empty_cache()
    return peak


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


def interleaved(builders: dict, one, args) -> tuple[dict, dict[str, list[float]], dict[str, int | None]]:
    """Each model's peak memory alone, then all of them built, warmed up and timed call by call:
    (models, times in seconds per model, peak bytes per model)."""
    memory = {name: alone_peak_bytes(args.device, build, one) for name, build in builders.items()}
    models = {name: build() for name, build in builders.items()}
    return models, call_by_call(models, one, args), memory


# ------------------------------------------------------------------ 1. generator step
def generator_step(args) -> dict:
    ns = argparse.Namespace(netG=NETG, ngf=args.ngf, size=args.size, embedding=8, device=args.device)
    builders = {"dense": lambda: train_step.make_dense(ns), "hyper": lambda: train_step.make_hyper(ns)}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, args.size, args.size, generator=g).to(args.device)
    y = torch.tanh(torch.randn(1, 3, args.size, args.size, generator=g)).to(args.device)

    def one(m) -> float:
        return train_step.step(*m, x, y, args.device)

    _, times, memory = interleaved(builders, one, args)
    rows = {name: {"median_ms": median_ms(t), "peak_memory_alone_bytes": memory[name]}
            for name, t in times.items()}
    rows["ratio_hyper_over_dense"] = rows["hyper"]["median_ms"] / rows["dense"]["median_ms"]
    print(f"generator step: dense {rows['dense']['median_ms']:.1f} ms, "
          f"hyper {rows['hyper']['median_ms']:.1f} ms ({rows['ratio_hyper_over_dense']:.2f}x)", flush=True)
    return rows


# ------------------------------------------------------------------ 2. GAN training step
def config_for(args, model: str) -> RunConfig:
    return RunConfig().updated({
        "data.dataroot": "builtin:edges2shapes" if model == "pix2pix" else "builtin:shapes2stripes",
        "data.load_size": args.size, "data.crop_size": args.size, "data.preprocess": "resize",
        "data.flip": False, "data.batch_size": 1, "model.netG": NETG, "model.ngf": args.ngf,
        "model.ndf": args.ngf, "train.model": model, "train.device": args.device,
        "train.deterministic": False, "prune.ratio": 0.25,
        # long phases: the timed steps come before the search has thinned the model
        "train.search_steps": 10_000, "train.finetune_steps": 10_000})


def trainer_for(args, model: str, compress: bool, run_dir: Path) -> Trainer:
    return Trainer(config_for(args, model), run_dir, compress=compress)


def fixed_batch(args, model: str) -> dict[str, torch.Tensor]:
    """Training image 0 as a batch of one: every timed step sees it, so loading is not timed."""
    train_set, _ = setup.make_datasets(setup.resolve_defaults(config_for(args, model)))
    return {k: v.unsqueeze(0) for k, v in train_set[0].items() if torch.is_tensor(v)}


def timed_step(t: Trainer, batch: dict, device: str) -> float:
    """Seconds of one `coronet compress` training step, the device's queue drained on both sides."""
    sync(device)
    start = time.perf_counter()
    t.train_step(batch)
    sync(device)
    return time.perf_counter() - start


def gan_step(args, model: str, widths: dict[float, dict[str, int]]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        def finetuning(w: dict[str, int]) -> Trainer:
            t = trainer_for(args, model, False, Path(tmp) / "finetune")
            t.phase = "finetune"
            t.use_generators({n: get_generator(NETG, widths=w, ngf=args.ngf) for n in t.names})
            return t

        builders = {"dense": lambda: trainer_for(args, model, False, Path(tmp) / "dense"),
                    "search": lambda: trainer_for(args, model, True, Path(tmp) / "search")}
        builders.update({f"finetune@{r}": (lambda w=w: finetuning(w)) for r, w in widths.items()})
        batch = fixed_batch(args, model)
        torch.backends.cudnn.benchmark = True
        trainers, times, memory = interleaved(builders, lambda t: timed_step(t, batch, args.device), args)
        size = (args.size, args.size)
        rows = {}
        for name, t in trainers.items():
            macs = None if t.compress else sum(count_macs(g, size) for g in t.generators.values())
            rows[name] = {"median_ms": median_ms(times[name]), "peak_memory_alone_bytes": memory[name],
                          "generators_macs": macs}
        dense = rows["dense"]["median_ms"]
        for row in rows.values():
            row["over_dense"] = row["median_ms"] / dense
        print(f"{model} GAN step: " + ", ".join(f"{n} {r['median_ms']:.1f} ms ({r['over_dense']:.2f}x)"
                                               for n, r in rows.items()), flush=True)
    torch.backends.cudnn.benchmark = False
    return rows


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
        times = call_by_call(trainers, lambda t: timed_step(t, batch, args.device), args)
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


def markdown_tables(result: dict) -> list[str]:
    """The README's two tables (training steps with memory; latency), rendered from a result."""
    gib = 2 ** 30
    g, p2p, cyc = result["generator"], result["pix2pix"], result["cyclegan"]

    def step(row: dict, ratio: float | None = None) -> str:
        ratio = row.get("over_dense") if ratio is None else ratio
        return f"{row['median_ms']:.1f} ms" + ("" if ratio is None or ratio == 1.0 else f" ({ratio:.2f}×)")

    def memory(*rows: dict | None) -> str:
        cells = ("–" if r is None else f"{r['peak_memory_alone_bytes'] / gib:.2f}" for r in rows)
        return " / ".join(cells) + " GiB"

    lines = ["| | generator step (L1 loss) | Pix2Pix GAN step | CycleGAN GAN step | "
             "peak memory: generator step / Pix2Pix / CycleGAN |", "|---|---|---|---|---|",
             f"| dense | {step(g['dense'])} | {step(p2p['dense'])} | {step(cyc['dense'])} | "
             f"{memory(g['dense'], p2p['dense'], cyc['dense'])} |",
             f"| search (hyper-model) | {step(g['hyper'], g['ratio_hyper_over_dense'])} | "
             f"{step(p2p['search'])} | {step(cyc['search'])} | "
             f"{memory(g['hyper'], p2p['search'], cyc['search'])} |"]
    for ratio in TARGETS:
        key = f"finetune@{ratio}"
        lines.append(f"| fine-tune, compact {ratio:.0%} | – | {step(p2p[key])} | {step(cyc[key])} | "
                     f"{memory(None, p2p[key], cyc[key])} |")
    lines += ["", "| batch, dtype, mode | dense | coronet 25% (speed-up) | coronet 10% (speed-up) |",
              "|---|---|---|---|"]
    for key, row in result["latency"]["timings"].items():
        batch, dtype, mode = key.split("|")
        cells = [f"{row['dense']['median_ms']:.2f} ms"] + [
            f"{row[f'coronet@{r}']['median_ms']:.2f} ms ({row[f'coronet@{r}']['speedup_vs_dense']:.2f}×)"
            for r in TARGETS]
        lines.append(f"| {batch.removeprefix('batch')}, {dtype.upper()}, "
                     f"{'CUDA graph' if mode == 'graph' else mode} | " + " | ".join(cells) + " |")
    return lines


def compile_table(result: dict) -> list[str]:
    """The README's `train.compile` table: GAN step with and without, rendered from a result."""
    gib = 2 ** 30
    lines = ["| GAN step | eager | `train.compile` (speed-up) | first step, compiling | "
             "step's peak memory, eager / compiled |", "|---|---|---|---|---|"]
    for model, title in (("compile_pix2pix", "Pix2Pix"), ("compile_cyclegan", "CycleGAN")):
        rows = result[model]
        for kind in ("dense", "search"):
            eager, compiled = rows[kind], rows[f"{kind}+compile"]
            speedup = eager["median_ms"] / compiled["median_ms"]
            lines.append(f"| {title} {kind} | {eager['median_ms']:.1f} ms | {compiled['median_ms']:.1f} ms "
                         f"({speedup:.2f}×) | {compiled['first_step_s']:.0f} s | "
                         f"{eager['step_peak_memory_bytes'] / gib:.2f} / "
                         f"{compiled['step_peak_memory_bytes'] / gib:.2f} GiB |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--reps", type=int, default=30, help="timed training steps per model")
    p.add_argument("--runs", type=int, default=200, help="timed inference calls per model")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--sections", nargs="+", default=["generator", "pix2pix", "cyclegan", "latency"])
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.json")
    p.add_argument("--markdown", type=Path, metavar="RESULT",
                   help="print the README's tables of a finished result and stop")
    args = p.parse_args()
    if args.markdown:
        result = json.loads(args.markdown.read_text())
        print("\n".join(markdown_tables(result) if "generator" in result else compile_table(result)))
        return
    widths = searched_widths(args.ngf)
    env = environment()
    # a device's copy of the tree may carry a stale .git: the caller names the commit it sent
    env["commit"] = os.environ.get("SOURCE_COMMIT") or env["commit"]
    if args.device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        env.update({"gpu": props.name, "gpu_memory_bytes": props.total_memory,
                    "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                    "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                    "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32})
    result = {"benchmark": "gpu", "environment": env,
              "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "widths": {str(r): w for r, w in widths.items()}}
    sections = {"generator": lambda: generator_step(args),
                "pix2pix": lambda: gan_step(args, "pix2pix", widths),
                "cyclegan": lambda: gan_step(args, "cyclegan", widths),
                "latency": lambda: latency(args, widths),
                "compile_pix2pix": lambda: compile_step(args, "pix2pix"),
                "compile_cyclegan": lambda: compile_step(args, "cyclegan")}
    for name in args.sections:  # one failing section must not lose the others' figures
        try:
            result[name] = sections[name]()
        except Exception as e:  # noqa: BLE001 - recorded in the result and printed
            result[name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name} failed: {type(e).__name__}: {e}", flush=True)
        write_result(args.out, result)


if __name__ == "__main__":
    main()
