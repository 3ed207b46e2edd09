"""What a training step costs: the search against a dense step, on any device, side by side.

Sections (ResNet-9 unless --netG says otherwise, batch 1; the models of a section alternate call by
call in one process, so a noisy machine slows them alike; figures are medians):
  generator  the generator alone: zero_grad, forward, L1 loss, backward, Adam, and for the
             hyper-model the controller's step. Dense against hyper-model. Then the floor: the
             hypernetwork's own work (generation, its backward, Adam) and its Adam update alone,
             timed beside the dense step, with a copy's bandwidth (`hypernetwork_floor`).
  pix2pix, cyclegan
             the whole GAN step as `coronet compress` runs it (`Trainer.train_step` on one fixed
             batch): the dense run, the search, fine-tuning the compact generators at 25% and 10% of
             the MACs (the widths of results/latency.json), and an online-distillation step as OMGD
             trains: the dense GAN step of the teacher plus a compact student (25%) that learns the
             teacher's output by L1, both updated every step. OMGD also distils feature maps and a
             perceptual loss from two teachers, so this is a lower bound of its step. Then coronet's
             step weighted by the presets' phase lengths (search share of the epochs).
Each kind is timed against a dense partner of its own (pairs; see `time_pair`).
Every section also counts the operators of one step (torch profiler: the outermost aten operators
that compute, views left out) and, each model alone in a fresh process, the memory a step adds on
top of what the model holds between steps (CPU: peak RSS; CUDA: max_memory_allocated).

    python benchmarks/train_step.py --size 128 --out benchmarks/results/train_step_lean_128.json
    python benchmarks/train_step.py --ngf 8 --size 32 --reps 2 --sections generator pix2pix   # quick
    python benchmarks/train_step.py --netG mobile_resnet_9blocks --size 128 --kinds search
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from common import environment, write_result
from coronet.config import RunConfig
from coronet.gan import setup
from coronet.gan.trainer import Trainer
from coronet.models import get_generator, save_generator
from coronet.pruning import BudgetController, BudgetTarget, hypernetize, resolve_budget
from coronet.pruning.hyperconv import FORMS

LR = 2e-4
WIDTHS = Path(__file__).parent / "results" / "latency.json"
TARGETS = (0.25, 0.1)
# search share of the epochs in the presets (pix2pix-edges2shoes-r: 5 of 20; cyclegan-*: 100 of 200)
SEARCH_SHARE = {"pix2pix": 5 / 20, "cyclegan": 100 / 200}
VIEWS = {"view", "as_strided", "reshape", "_reshape_alias", "expand", "t", "transpose", "permute",
         "unsqueeze", "squeeze", "detach", "alias", "select", "slice", "empty", "empty_strided",
         "_unsafe_view", "resolve_conj", "resolve_neg", "lift_fresh", "empty_like", "result_type",
         "split", "split_with_sizes", "chunk", "unbind", "narrow", "contiguous", "flatten", "view_as",
         "expand_as", "detach_", "set_", "resize_", "to", "_to_copy", "item", "_local_scalar_dense",
         "is_nonzero", "size", "stride", "numel", "dim"}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def searched_widths(ngf: int) -> dict[float, dict[str, int]]:
    """The widths of latency.json (searched for ngf 64), scaled when a quick run uses another ngf."""
    models = json.loads(WIDTHS.read_text())["models"]
    out = {}
    for ratio in TARGETS:
        widths = models[f"coronet@{ratio}"]["widths"]
        out[ratio] = {k: (v if k.startswith("rgb") else max(1, v * ngf // 64)) for k, v in widths.items()}
    return out


# ------------------------------------------------------------------ the generator step
class GeneratorStep:
    """The generator alone, dense or hyper-model, trained towards a fixed target by L1."""

    def __init__(self, args, kind: str) -> None:
        torch.manual_seed(0)
        dense = get_generator(args.netG, ngf=args.ngf)
        self.model = (hypernetize(dense, form=args.hypernet) if kind == "hyper" else dense).to(args.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=(0.5, 0.999), fused=True)
        self.ctl = None
        if kind == "hyper":
            cost = self.model.cost_model((args.size, args.size))
            budget = resolve_budget(BudgetTarget("macs", ratio=0.25), cost, min_channels=4)
            self.ctl = BudgetController(self.model.latents, cost, budget, search_steps=10_000, lr=LR)
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(1, 3, args.size, args.size, generator=g).to(args.device)
        self.y = torch.tanh(torch.randn(1, 3, args.size, args.size, generator=g)).to(args.device)
        if kind == "hyper":  # fixed gradients of the generated kernels, for `hypernetwork_work`
            with torch.no_grad():
                self.kernel_grads = [1e-6 * torch.randn(layer.masked_weight_and_bias()[0].shape, generator=g)
                                     .to(args.device) for layer in self.model.hyper_layers().values()]

    def release_gradients(self) -> None:
        self.opt.zero_grad(set_to_none=True)

    def gradient_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters() if p.requires_grad)

    def generator_parameters(self) -> int:
        """What the generator's optimiser trains (with its gradient and Adam's two moments: the
        trainable state is four times this)."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def __call__(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        (self.model(self.x) - self.y).abs().mean().backward()
        self.opt.step()
        if self.ctl is not None:
            self.ctl.step(LR)

    def hypernetwork_work(self) -> None:
        """What the search adds to a dense step, without the convolutions: every kernel generated,
        a fixed gradient taken back through the generation to the hypernetwork, the Adam update."""
        self.opt.zero_grad(set_to_none=True)
        kernels = [layer.masked_weight_and_bias()[0] for layer in self.model.hyper_layers().values()]
        torch.autograd.backward(kernels, self.kernel_grads)
        self.opt.step()


# ------------------------------------------------------------------ the GAN step
def config_for(args, model: str) -> RunConfig:
    return RunConfig().updated({
        "data.dataroot": "builtin:edges2shapes" if model == "pix2pix" else "builtin:shapes2stripes",
        "data.load_size": args.size, "data.crop_size": args.size, "data.preprocess": "resize",
        "data.flip": False, "data.batch_size": 1, "model.netG": args.netG, "model.ngf": args.ngf,
        "model.ndf": args.ngf, "model.hypernet": args.hypernet, "train.model": model,
        "train.device": args.device,
        "train.deterministic": False, "prune.ratio": 0.25,
        # long phases: the timed steps come before the search has thinned the model
        "train.search_steps": 10_000, "train.finetune_steps": 10_000})


def fixed_batch(args, model: str) -> dict[str, torch.Tensor]:
    """Training image 0 as a batch of one: every timed step sees it, so loading is not timed."""
    train_set, _ = setup.make_datasets(setup.resolve_defaults(config_for(args, model)))
    return {k: v.unsqueeze(0) for k, v in train_set[0].items() if torch.is_tensor(v)}


class GanStep:
    """One `coronet compress` / `coronet train` step of a trainer on a fixed batch; with `student`
    widths, also an online-distillation step of a compact student from the trainer's generator."""

    def __init__(self, args, model: str, kind: str, run_dir: Path) -> None:
        self.batch = fixed_batch(args, model)
        widths = searched_widths(args.ngf)
        cfg = config_for(args, model)
        if kind.startswith("finetune@"):  # a fine-tuning step is a plain step at the searched widths
            w = widths[float(kind.removeprefix("finetune@"))]
            thin = get_generator(args.netG, widths=w, ngf=args.ngf)
            path = save_generator(thin, run_dir / f"{kind}_widths")
            cfg = cfg.updated({"model.widths": str(path), "model.widths_B": str(path)})
        self.trainer = t = Trainer(cfg, run_dir / kind, compress=kind == "search")
        self.student = None
        if kind == "omgd":
            teacher = t.generators[t.names[0]]  # OMGD distils one direction (CycleGAN: A -> B)
            self.teacher_out: list[torch.Tensor] = []
            teacher.register_forward_hook(lambda m, i, out: self.teacher_out.append(out))
            self.student = get_generator(args.netG, widths=widths[0.25], ngf=args.ngf).to(args.device)
            self.student_opt = torch.optim.Adam(self.student.parameters(), lr=t.cfg.train.lr,
                                                betas=(t.cfg.train.beta1, 0.999))
            self.source = "A"

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        t = self.trainer
        return [t.opt_G, t.opt_D] + ([self.student_opt] if self.student is not None else [])

    def release_gradients(self) -> None:
        for opt in self._optimizers():
            opt.zero_grad(set_to_none=True)

    def gradient_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for opt in self._optimizers()
                   for group in opt.param_groups for p in group["params"])

    def generator_parameters(self) -> int:
        return sum(p.numel() for group in self.trainer.opt_G.param_groups for p in group["params"])

    def __call__(self) -> None:
        if self.student is None:
            self.trainer.train_step(self.batch)
            return
        self.teacher_out.clear()
        self.trainer.train_step(self.batch)
        target = self.teacher_out[0].detach()
        self.student_opt.zero_grad(set_to_none=True)
        x = self.batch[self.source].to(target.device)
        torch.nn.functional.l1_loss(self.student(x), target).backward()
        self.student_opt.step()


def gan_kinds() -> list[str]:
    return ["dense", "search"] + [f"finetune@{r}" for r in TARGETS] + ["omgd"]


# ------------------------------------------------------------------ measuring
def build(args, section: str, kind: str, tmp: Path):
    if section == "generator":
        return GeneratorStep(args, kind)
    return GanStep(args, section, kind, tmp)


def timed(step, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    step()
    sync(device)
    return time.perf_counter() - start


def operator_count(step) -> dict:
    """Operators of one step: the outermost aten operators that compute (views and scalar reads
    left out), by name. On a GPU each launches one or a few kernels."""
    from torch.profiler import profile

    with profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()

    def computes(e) -> bool:
        return e.name.startswith("aten::") and e.name.removeprefix("aten::") not in VIEWS

    def nested(e) -> bool:
        parent = e.cpu_parent
        while parent is not None:
            if computes(parent):
                return True
            parent = parent.cpu_parent
        return False

    names = Counter(e.name for e in prof.events() if computes(e) and not nested(e))
    return {"total": sum(names.values()), "by_name": dict(names.most_common())}


def memory_alone(args, section: str, kind: str) -> dict:
    """This model alone in a fresh process: what it holds between steps and what a step adds."""
    cmd = [sys.executable, __file__, "--memory-of", section, kind, "--netG", args.netG,
           "--ngf", str(args.ngf), "--size", str(args.size), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    # every allocation of 64 KiB or more mapped on its own, so that freeing it returns it to the
    # system and RSS follows the memory in use (glibc otherwise keeps freed memory in its heap)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory of {section}/{kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_memory_here(args, section: str, kind: str) -> dict:
    """Held: weights and optimiser state between steps (gradients released). A step adds its
    activations, generated kernels and gradients; `activations_and_kernels_bytes` is the step's
    peak less the gradients (the gradients of the first layers arrive as the last activations are
    freed, so it is a lower bound)."""
    with tempfile.TemporaryDirectory() as tmp:
        step = build(args, section, kind, Path(tmp))
        for _ in range(2):  # allocates Adam's state
            step()
        step.release_gradients()
        sync(args.device)
        gc.collect()
        if args.device.startswith("cuda"):
            held = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            step()
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - held
        else:
            held = _status_kib("VmRSS") * 1024
            Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
            step()
            peak = _status_kib("VmHWM") * 1024 - held
        grads = step.gradient_bytes()
    return {"held_bytes": held, "step_peak_above_held_bytes": peak, "gradient_bytes": grads,
            "activations_and_kernels_bytes": peak - grads}


def interleaved(args, tasks: dict) -> dict[str, list[float]]:
    """Each task warmed up, then timed call by call in turn, `args.reps` times (seconds)."""
    for task in tasks.values():
        for _ in range(args.warmup):
            task()
    times: dict[str, list[float]] = {k: [] for k in tasks}
    for _ in range(args.reps):
        for k, task in tasks.items():
            times[k].append(timed(task, args.device))
    return times


def time_pair(args, section: str, kind: str) -> dict:
    """`kind` and a dense model of its own, built fresh, timed call by call: the ratio of medians.
    Pairs, not all models at once: with five models resident, a step also pays for the memory the
    others freed (page faults), which a real run, training one model, does not."""
    with tempfile.TemporaryDirectory() as tmp:
        steps = {k: build(args, section, k, Path(tmp)) for k in ("dense", kind)}
        times = interleaved(args, steps)
        ops = {k: operator_count(step) for k, step in steps.items()}
        params = {k: step.generator_parameters() for k, step in steps.items()}
        del steps
        gc.collect()
    medians = {k: 1e3 * statistics.median(t) for k, t in times.items()}
    return {"median_ms": medians[kind], "dense_median_ms": medians["dense"],
            "over_dense": medians[kind] / medians["dense"], "raw_ms": [1e3 * x for x in times[kind]],
            "dense_raw_ms": [1e3 * x for x in times["dense"]], "operators": ops[kind],
            "operators_over_dense": ops[kind]["total"] / ops["dense"]["total"],
            "dense_operators": ops["dense"], "generator_parameters": params[kind],
            "dense_generator_parameters": params["dense"],
            "generator_parameters_over_dense": params[kind] / params["dense"]}


def hypernetwork_floor(args) -> dict:
    """The hypernetwork's own work per step, timed alone beside the dense generator step: generating
    the kernels with their backward and the Adam update (`GeneratorStep.hypernetwork_work`), and the
    Adam update alone. With the bandwidth of a copy measured in the same run, it says how far the
    execution can go: fused Adam moves 28 bytes per parameter (parameter, gradient and both moments
    read; parameter and moments written), a copy 8."""
    dense, hyper = GeneratorStep(args, "dense"), GeneratorStep(args, "hyper")
    n = sum(p.numel() for p in hyper.model.parameters())
    src, dst = torch.ones(n, device=args.device), torch.zeros(n, device=args.device)
    times = interleaved(args, {"dense_step": dense, "hypernetwork_work": hyper.hypernetwork_work,
                               "adam_alone": hyper.opt.step, "copy": lambda: dst.copy_(src)})
    ms = {k: 1e3 * statistics.median(t) for k, t in times.items()}
    # the least the search adds with the math as it is: the Adam update, one read of the
    # hypernetwork to generate and one write of its gradient (as many bytes as the copy moves)
    floor = ms["adam_alone"] + ms["copy"]
    out = {"hyper_model_parameters": n, "median_ms": ms, "floor_ms": floor,
           "floor_over_dense": floor / ms["dense_step"],
           "hypernetwork_work_over_dense": ms["hypernetwork_work"] / ms["dense_step"],
           "adam_alone_over_dense": ms["adam_alone"] / ms["dense_step"],
           "adam_GB_per_s": 28 * n / ms["adam_alone"] / 1e6, "copy_GB_per_s": 8 * n / ms["copy"] / 1e6}
    print(f"floor {floor:.0f} ms ({out['floor_over_dense']:.2f} of a dense generator step of "
          f"{ms['dense_step']:.0f} ms): Adam alone {ms['adam_alone']:.0f} ms at {out['adam_GB_per_s']:.0f} "
          f"GB/s, copy {ms['copy']:.0f} ms at {out['copy_GB_per_s']:.0f} GB/s; the hypernetwork's work as "
          f"executed {ms['hypernetwork_work']:.0f} ms ({out['hypernetwork_work_over_dense']:.2f})",
          flush=True)
    return out


def run_section(args, section: str) -> dict:
    kinds = ["hyper"] if section == "generator" else [k for k in gan_kinds() if k != "dense"]
    kinds = [k for k in kinds if k == "hyper" or not args.kinds or k in args.kinds]
    rows = {k: time_pair(args, section, k) for k in kinds}
    first = rows[kinds[0]]
    rows = {"dense": {"median_ms": first["dense_median_ms"], "over_dense": 1.0,
                      "operators": first["dense_operators"], "operators_over_dense": 1.0,
                      "generator_parameters": first["dense_generator_parameters"]}, **rows}
    if not args.no_memory:
        for k in rows:
            rows[k]["memory"] = memory_alone(args, section, k)
        base = rows["dense"]["memory"]
        for row in rows.values():
            for key in ("step_peak_above_held_bytes", "activations_and_kernels_bytes"):
                row[f"{key.removesuffix('_bytes')}_over_dense"] = (
                    row["memory"][key] / base[key] if base[key] > 0 else None)
    out = {"rows": rows}
    if section == "generator":
        out["floor"] = hypernetwork_floor(args)
    if section != "generator" and {"search", "finetune@0.25", "omgd"} <= rows.keys():
        share = SEARCH_SHARE[section]
        # in dense steps: each kind's ratio was measured against its own dense partner
        weighted = share * rows["search"]["over_dense"] + (1 - share) * rows["finetune@0.25"]["over_dense"]
        out["coronet_weighted"] = {"search_share": share, "over_dense": weighted,
                                   "over_omgd": weighted / rows["omgd"]["over_dense"]}
    print(f"{section}: " + ", ".join(f"{k} {r['median_ms']:.0f} ms ({r['over_dense']:.2f}x, "
                                     f"{r['operators']['total']} ops)" for k, r in rows.items())
          + (f"; coronet weighted {out['coronet_weighted']['over_dense']:.2f}x dense, "
             f"{out['coronet_weighted']['over_omgd']:.2f}x OMGD" if "coronet_weighted" in out else ""),
          flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--netG", default="resnet_9blocks",
                   help="the generator (mobile_resnet_9blocks shares ResNet-9's groups and widths)")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--hypernet", default="lean", choices=FORMS, help="the search's hypernetwork form")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--sections", nargs="+", default=["generator", "pix2pix", "cyclegan"])
    p.add_argument("--kinds", nargs="+", help="only these GAN steps besides dense (e.g. search)")
    p.add_argument("--no-memory", action="store_true", help="skip the per-model memory processes")
    p.add_argument("--memory-of", nargs=2, metavar=("SECTION", "KIND"), help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_step.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_of:
        print(json.dumps(measure_memory_here(args, *args.memory_of)))
        return
    result = {"benchmark": "train_step", "environment": environment(),
              "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    for section in args.sections:
        result[section] = run_section(args, section)
    write_result(args.out, result)


if __name__ == "__main__":
    main()
