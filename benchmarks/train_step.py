"""What a training step costs: the search against a dense step, on any device, side by side.

Sections (ResNet-9 unless --netG says otherwise, batch 1; the models of a section alternate call by
call in one process, so a noisy machine slows them alike; figures are medians):
  generator  the generator alone: zero_grad, forward, L1 loss, backward, Adam, and for the
             hyper-model the controller's step. Dense against hyper-model.
  pix2pix, cyclegan
             the whole GAN step as `coronet compress` runs it (`Trainer.train_step` on one fixed
             batch): the dense run, the search, fine-tuning the compact generators at 25% and 10% of
             the MACs (the widths of results/latency.json), and an online-distillation step as OMGD
             trains: the dense GAN step of the teacher plus a compact student (25%) that learns the
             teacher's output by L1, both updated every step. OMGD also distils feature maps and a
             perceptual loss from two teachers, so this is a lower bound of its step. Then coronet's
             step weighted by the presets' phase lengths (search share of the epochs).
Each kind is timed against a dense partner of its own (pairs; see `time_pair`). Every section also
measures, each model alone in a fresh process, the memory a step adds on top of what the model holds
between steps (CPU: peak RSS; CUDA: max_memory_allocated). Into results/ it writes its table too,
step-cost-forms.md (from every train_step_<form>_<size>.json).

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
from pathlib import Path

import torch

from common import RESULTS, environment, load, source, table, write_result
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
        "train.search": 10_000, "train.finetune": 10_000})


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
        params = {k: step.generator_parameters() for k, step in steps.items()}
        del steps
        gc.collect()
    medians = {k: 1e3 * statistics.median(t) for k, t in times.items()}
    return {"median_ms": medians[kind], "dense_median_ms": medians["dense"],
            "over_dense": medians[kind] / medians["dense"], "raw_ms": [1e3 * x for x in times[kind]],
            "dense_raw_ms": [1e3 * x for x in times["dense"]], "generator_parameters": params[kind],
            "dense_generator_parameters": params["dense"],
            "generator_parameters_over_dense": params[kind] / params["dense"]}



def run_section(args, section: str) -> dict:
    kinds = ["hyper"] if section == "generator" else [k for k in gan_kinds() if k != "dense"]
    kinds = [k for k in kinds if k == "hyper" or not args.kinds or k in args.kinds]
    rows = {k: time_pair(args, section, k) for k in kinds}
    first = rows[kinds[0]]
    rows = {"dense": {"median_ms": first["dense_median_ms"], "over_dense": 1.0,
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
    if section != "generator" and {"search", "finetune@0.25", "omgd"} <= rows.keys():
        share = SEARCH_SHARE[section]
        # in dense steps: each kind's ratio was measured against its own dense partner
        weighted = share * rows["search"]["over_dense"] + (1 - share) * rows["finetune@0.25"]["over_dense"]
        out["coronet_weighted"] = {"search_share": share, "over_dense": weighted,
                                   "over_omgd": weighted / rows["omgd"]["over_dense"]}
    print(f"{section}: " + ", ".join(f"{k} {r['median_ms']:.0f} ms ({r['over_dense']:.2f}x)"
                                     for k, r in rows.items())
          + (f"; coronet weighted {out['coronet_weighted']['over_dense']:.2f}x dense, "
             f"{out['coronet_weighted']['over_omgd']:.2f}x OMGD" if "coronet_weighted" in out else ""),
          flush=True)
    return out


# ------------------------------------------------------------------ the table
def _finetune(rows: dict) -> str:
    return f"{rows['finetune@0.25']['over_dense']:.2f}× / {rows['finetune@0.1']['over_dense']:.2f}×"


def step_cost_forms() -> list[str]:
    """The search step of each hypernetwork form over a dense step, the lean form's GAN steps in full
    (memory, trainable state, fine-tuning, the OMGD-like step, the run weighted by phase lengths)."""
    rows = []
    for size in (128, 256):
        lean = load(f"train_step_lean_{size}.json")
        others = [load(f"train_step_{f}_{size}.json") for f in ("dhp", "gated")]
        for section in ("generator", "pix2pix", "cyclegan"):
            r, gan = lean[section]["rows"], section != "generator"
            search = "search" if gan else "hyper"
            forms = [f"{r[search]['over_dense']:.2f}×"] + [
                f"{o[section]['rows'][search]['over_dense']:.2f}×" if section in o else "–" for o in others]
            memory = r[search].get("step_peak_above_held_over_dense")
            weighted = lean[section].get("coronet_weighted")
            rows.append([
                f"{size}×{size}", section if gan else "generator alone", f"{r['dense']['median_ms']:.0f} ms",
                " / ".join(forms), "–" if memory is None else f"{memory:.2f}×",
                f"{r[search]['generator_parameters_over_dense']:.2f}×", _finetune(r) if gan else "–",
                f"{r['omgd']['over_dense']:.2f}×" if gan else "–",
                f"{weighted['over_dense']:.2f}× / {weighted['over_omgd']:.2f}×" if weighted else "–"])
    names = [f"train_step_{f}_{s}.json" for f in ("lean", "dhp", "gated") for s in (128, 256)]
    return table(["size", "step", "dense step", "search / dense: lean / DHP / gated",
                  "step memory, search / dense (lean)", "trained parameters, search / dense (lean)",
                  "fine-tune 25% / 10%, over dense", "online distillation (OMGD-like), over dense",
                  "coronet weighted (lean), over dense / over OMGD-like"], rows) + [
        "", "ResNet-9 ngf 64, batch 1, CPU (x86_64), 2 threads; each step timed against a dense step of its "
        "own in one process. Sources: " + source(*names) + "."]


TABLES = {"step-cost-forms": step_cost_forms}


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
    p.add_argument("--out", type=Path, default=RESULTS / "train_step.json")
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
    cpu_form_files = {f"train_step_{f}_{s}.json" for f in FORMS for s in (128, 256)}
    write_result(args.out, result, TABLES if args.out.name in cpu_form_files else None)


if __name__ == "__main__":
    main()
