"""The tables of docs/results.md, rendered from the committed benchmark JSON.

    python benchmarks/results_doc.py           # rewrite every generated table in docs/results.md
    python benchmarks/results_doc.py --check   # exit 1 if a table differs from its JSON

A table sits between `<!-- table: NAME -->` and `<!-- end -->`; the text around it is written by
hand. `tests/test_results_doc.py` runs the check, so a figure in the document is always the
committed result, never a retyped one.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from baselines_seeds import p_value, paired_difference

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "results.md"
MINUS = "\u2212"

# Where every cited file came from: the command that wrote it and the commit that added it to the
# repository. A file that records the commit its run started from (environment.commit) is cited with
# that one instead.
SOURCES = {
    "planted.json": ("python benchmarks/planted.py", "2c2f3b4"),
    "baselines_edges2shoes_extreme_seed*.json": (
        "python benchmarks/baselines.py edges2shoes --targets 0.1 0.05 0.025 --seed N",
        "dffa45b",
    ),
    "baselines_edges2shoes_extreme_seeds.json": (
        "python benchmarks/baselines_seeds.py edges2shoes_extreme",
        "dffa45b",
    ),
    "latency.json": ("python benchmarks/latency.py --generators DIR --runs 20 (DIR: the --keep folder of "
                     "compress_edges2shoes_ngf64.json's run)", "163bccc"),
    "latency_mobile.json": (
        "python benchmarks/latency.py --netG mobile_resnet_9blocks --targets 0.0765 --student-ngf 16 "
        "--dtypes fp32 int8 --runs 20 --out benchmarks/results/latency_mobile.json",
        "0320960",
    ),
    "compress_edges2shoes_ngf64.json": (
        "python benchmarks/compress_edges2shoes.py --ngf 64 --targets 0.25 0.1 --keep DIR "
        "--out benchmarks/results/compress_edges2shoes_ngf64.json",
        "163bccc",
    ),
    "train_step_[D].json": (
        "python benchmarks/train_step.py --size 128 --threads 2 (D = 128; 256: --reps 7 --warmup 2 "
        "--no-memory; h200: --device cuda --reps 20)",
        "a4ca8cf",
    ),
    "gpu_h200.json": ("python benchmarks/gpu.py (H200)", "9a64864"),
    "gpu_compile_h200.json": (
        "python benchmarks/gpu.py --sections compile_pix2pix compile_cyclegan",
        "a4ca8cf",
    ),
}
SOURCES.update({
    "ablation.json": ("python benchmarks/ablation.py summary", "e5fd021"),
    "ablation_planted_seed*.json": ("python benchmarks/ablation.py planted --seed N --threads 1", "e5fd021"),
    "ablation_scratch_seed*.json": ("python benchmarks/ablation.py scratch --seed N --threads 1", "e5fd021"),
    "ablation_trained_seed*.json": ("python benchmarks/ablation.py trained --seed N --threads 1", "e5fd021"),
    "pace.json": ("python benchmarks/pace.py", "e5fd021"),
    "train_step_lean_[S].json": (
        "python benchmarks/train_step.py --hypernet lean --size S --threads 2 (128: --reps 7 --warmup 2; "
        "256: --reps 5 --warmup 1 --no-memory)", "e5fd021"),
    "train_step_dhp_[S].json": (
        "python benchmarks/train_step.py --hypernet dhp --size S --threads 2 --kinds search (128: --sections "
        "generator pix2pix --reps 7 --warmup 2; 256: --sections pix2pix --reps 5 --warmup 1 --no-memory)",
        "e5fd021"),
    "train_step_gated_[S].json": ("the same with --hypernet gated (a form since removed)", "e5fd021"),
})
PLANTED = {"planted.json": "coronet"}
DIGITS = {"psnr": 2, "ssim": 3, "l1": 4, "fd_rand_AtoB": 1, "fd_rand_BtoA": 1}
NAMES = {
    "psnr": "PSNR",
    "ssim": "SSIM",
    "l1": "L1",
    "fd_rand_AtoB": "FD-rand A→B",
    "fd_rand_BtoA": "FD-rand B→A",
}


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def files(pattern: str) -> list[str]:
    """The files a `_seed*` pattern names: the seed-0 file (no suffix), every `_seedN`, and every
    `_seedN_LABEL` (rows a later call added to seed N)."""
    stem = pattern.replace("_seed*.json", "")
    found = [
        p.name
        for p in RESULTS.glob(f"{stem}*.json")
        if re.fullmatch(re.escape(stem) + r"(_seed\d+(_[\w.]+)?)?\.json", p.name)
    ]
    return sorted(found, key=seed_of)


def seed_of(name: str) -> int:
    """The seed of a single-seed file: N for `_seedN`, 0 for the file without the suffix."""
    m = re.search(r"_seed(\d+)(_[\w.]+)?\.json$", name)
    return int(m.group(1)) if m else 0


def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", MINUS)


def cell(difference: dict, metric: str) -> str:
    """'mean ± s.e. (p P)': a paired difference over seeds, Wilcoxon's signed-rank p."""
    d = DIGITS[metric]
    return f"{signed(difference['mean'], d)} ± {difference['stderr']:.{d}f} (p {p_value(difference)})"


def source(name: str) -> str:
    """'`file` (commit)': the commit the run started from where the file records it, else the commit
    that added the file."""
    first = files(name)[0] if "*" in name else runs(name)[0] if is_run_pattern(name) else name
    commit = (load(first).get("environment") or {}).get("commit") or SOURCES[name][1]
    return f"`{name}` ({commit[:7] + ('-dirty' if commit.endswith('-dirty') else '')})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def n_seeds(difference: dict) -> str:
    return str(len(difference["per_seed"]))


# ----------------------------------------------------------------------------- tables
def _model_name(key: str) -> str:
    """'coronet@0.25' -> 'coronet 25%'; 'ngf 16' -> 'ngf 16, uniform'."""
    if key.startswith("coronet@"):
        return f"coronet {float(key.removeprefix('coronet@')) * 100:g}%"
    return f"{key}, uniform" if key.startswith("ngf ") else key


def latency(name: str = "latency.json") -> list[str]:
    """One row per generator and runtime: latency per data type, speed-ups, output PSNR."""
    d = load(name)
    runtimes = {"torch": "PyTorch eager", "onnx": "ONNX Runtime", "pte": "ExecuTorch (XNNPACK)"}
    rows = []
    for model, m in d["models"].items():
        lat, speed = m["latency_ms"], m["speedup_vs_dense"]
        over_fp32 = m.get("speedup_over_fp32", {})
        for runtime, label in runtimes.items():
            if runtime == "torch":
                cells = [f"{lat['torch']['median_ms']:.0f} ms ({speed['torch']:.2f}×)", "–", "–", "–"]
            elif f"{runtime}_fp32" not in lat:
                continue
            else:
                cells = []
                for dtype in ("fp32", "fp16", "int8"):
                    key = f"{runtime}_{dtype}"
                    if key not in lat:
                        cells.append("–")
                        continue
                    cell = f"{lat[key]['median_ms']:.0f} ms ({speed[key]:.2f}×"
                    if dtype != "fp32" and key in over_fp32:
                        cell += f"; {over_fp32[key]:.2f}× FP32"
                    cells.append(cell + ")")
                psnr = m["export"]
                prefix = "" if runtime == "onnx" else "pte_"
                cells.append(" / ".join(f"{psnr[prefix + t]['psnr_db_vs_torch']:.1f}" if prefix + t in psnr
                                        else "–" for t in ("fp32", "fp16", "int8")))
            first = [_model_name(model), f"{m['macs'] / 1e9:.2f} G", f"{m['params'] / 1e6:.2f} M"]
            rows.append((first if runtime == "torch" else ["", "", ""]) + [label] + cells)
    env, setup = d["environment"], d["setup"]
    versions = f"onnxruntime {env['onnxruntime']}"
    if "executorch" in env:
        versions += f", ExecuTorch {env['executorch']}"
    return table(["generator", "MACs", "params", "runtime", "FP32", "FP16", "INT8",
                  "PSNR vs PyTorch FP32, FP32 / FP16 / INT8 (dB)"], rows) + [
        "",
        f"`{setup['generator'].replace(' ngf', '`, ngf ')}; {env['device']}, {setup['threads']} threads, "
        f"batch 1, {setup['size'][0]}×{setup['size'][1]}, "
        f"torch {env['torch']}, {versions}; median of {setup['runs']} interleaved runs "
        f"× {setup['repeats']} repeats; in brackets the speed-up over the dense model in the same "
        f"runtime and data type and, for FP16 and INT8, over the same model's FP32 in that runtime. "
        f"PSNR on {setup.get('psnr_images', 'two calibration images')}. Weights: "
        f"{setup.get('weights', 'untrained')}. Source: {source(name)}.",
    ]


STEP_RUNS = (
    ("128", "CPU, 2 threads, 128×128"),
    ("256", "CPU, 2 threads, 256×256"),
    ("h200", "H200, 256×256"),
)


def _finetune(rows: dict) -> str:
    return f"{rows['finetune@0.25']['over_dense']:.2f}× / {rows['finetune@0.1']['over_dense']:.2f}×"


def step_cost_forms() -> list[str]:
    """The search step of each hypernetwork form over a dense step, the lean form's GAN steps in full
    (memory, trainable state, fine-tuning, the OMGD-like step, the run weighted by phase lengths)."""
    rows = []
    for size in (128, 256):
        lean = load(f"train_step_lean_{size}.json")
        others = {f: load(f"train_step_{f}_{size}.json") for f in ("dhp", "gated")}
        for section in ("generator", "pix2pix", "cyclegan"):
            r = lean[section]["rows"]
            search = "hyper" if section == "generator" else "search"
            gan = section != "generator"
            forms = [f"{r[search]['over_dense']:.2f}×"] + [
                f"{o[section]['rows'][search]['over_dense']:.2f}×" if section in o else "–"
                for o in others.values()]
            memory = r[search].get("step_peak_above_held_over_dense")
            weighted = lean[section].get("coronet_weighted")
            rows.append([
                f"{size}×{size}", section if gan else "generator alone", f"{r['dense']['median_ms']:.0f} ms",
                " / ".join(forms), "–" if memory is None else f"{memory:.2f}×",
                f"{r[search]['generator_parameters_over_dense']:.2f}×",
                _finetune(r) if gan else "–",
                f"{r['omgd']['over_dense']:.2f}×" if gan else "–",
                f"{weighted['over_dense']:.2f}× / {weighted['over_omgd']:.2f}×" if weighted else "–",
            ])
    names = [f"train_step_{f}_{s}.json" for f in ("lean", "dhp", "gated") for s in (128, 256)]
    return table(["size", "step", "dense step", "search / dense: lean / DHP / gated",
                  "step memory, search / dense (lean)", "trained parameters, search / dense (lean)",
                  "fine-tune 25% / 10%, over dense", "online distillation (OMGD-like), over dense",
                  "coronet weighted (lean), over dense / over OMGD-like"], rows) + [
        "",
        "ResNet-9 ngf 64, batch 1, CPU (x86_64), 2 threads; each step timed against a dense step of its "
        "own in one process. Sources: " + ", ".join(source(n) for n in names) + ".",
    ]


def gpu() -> list[str]:
    d, steps, comp = load("gpu_h200.json"), load("train_step_h200.json"), load("gpu_compile_h200.json")
    rows = []
    for model in ("pix2pix", "cyclegan"):
        r, k = steps[model]["rows"], comp[f"compile_{model}"]
        rows.append(
            [
                model,
                f"{r['dense']['median_ms']:.1f} ms",
                f"{r['search']['over_dense']:.2f}×",
                f"{r['finetune@0.25']['over_dense']:.2f}× / {r['finetune@0.1']['over_dense']:.2f}×",
                f"{r['search']['step_peak_above_held_over_dense']:.2f}×",
                f"{k['search+compile']['over_dense']:.2f}×",
            ]
        )
    lat = d["latency"]["timings"]
    speed = {
        key.split("|")[-1]: {n: v["speedup_vs_dense"] for n, v in lat[key].items()}
        for key in ("batch1|fp32|eager", "batch1|fp32|graph")
    }
    env = steps["environment"]
    return table(
        [
            "GAN training step",
            "dense step",
            "search / dense",
            "fine-tune 25% / 10% over dense",
            "search step's memory / dense",
            "search with train.compile / dense (its own run)",
        ],
        rows,
    ) + [
        "",
        f"Inference at batch 1, FP32: compact over dense {speed['eager']['coronet@0.25']:.2f}× "
        f"(25%) and {speed['eager']['coronet@0.1']:.2f}× (10%) in eager PyTorch, "
        f"{speed['graph']['coronet@0.25']:.2f}× and {speed['graph']['coronet@0.1']:.2f}× "
        f"with a CUDA graph.",
        "",
        f"ResNet-9 ngf 64, 256×256, batch 1, {env['device'].removeprefix('cuda:')}, torch {env['torch']}. "
        f"Sources: {source('train_step_h200.json')}, {source('gpu_compile_h200.json')}, "
        f"latency {source('gpu_h200.json')}.",
    ]


def _pairs(specs: list[tuple[str, str, str, Callable[[dict], dict]]], metrics: list[str]) -> list[str]:
    """One row per paired difference; the source once under the table when every row shares it."""
    rows, names = [], []
    for label, target, name, pick in specs:
        diff = pick(load(name))
        rows.append([label, target, n_seeds(diff[metrics[0]])] + [cell(diff[k], k) for k in metrics])
        names.append(name)
    header = ["coronet minus", "target", "seeds"] + [f"Δ{NAMES[k]}" for k in metrics]
    if len(set(names)) == 1:
        return table(header, rows) + ["", f"Source: {source(names[0])}."]
    return table(header + ["source"], [r + [source(n)] for r, n in zip(rows, names, strict=True)])


def per_seed(pattern: str, key: str, metrics: list[str]) -> dict:
    """Paired differences from single-seed files, each holding one difference under `key`."""
    values = [load(name)["differences"][key] for name in files(pattern)]
    return {k: paired_difference([v[k] for v in values]) for k in metrics}


def rows_per_seed(pattern: str, row: str, other: str, metrics: list[str]) -> dict:
    """Paired differences of two rows of the same run, over single-seed files."""
    runs = [{r["row"]: r["metrics"] for r in load(name)["rows"]} for name in files(pattern)]
    return {k: paired_difference([run[row][k] - run[other][k] for run in runs]) for k in metrics}


def across_files(pattern: str, reference: str, row: str, metrics: list[str]) -> dict:
    """Paired differences of one row between two sets of single-seed files (`pattern` minus
    `reference`), over the seeds where both hold the row."""
    def by_seed(p: str) -> dict[int, dict]:
        found = {}
        for name in files(p):
            rows = {r["row"]: r["metrics"] for r in load(name)["rows"]}
            if row in rows:
                found[seed_of(name)] = rows[row]
        return found

    a, b = by_seed(pattern), by_seed(reference)
    seeds = sorted(a.keys() & b.keys())
    return {k: paired_difference([a[s][k] - b[s][k] for s in seeds]) for k in metrics}


def planted() -> list[str]:
    rows = []
    for name, label in PLANTED.items():
        seeds = load(name)["seeds"]
        ratio = max(r["oracle_over_uniform"] for r in seeds)
        recovered = [r["recovered"] for r in seeds]
        spearman = [r["spearman"] for r in seeds]
        passed = ratio <= 0.7 and min(recovered) >= 0.6 and min(spearman) >= 0.7
        rows.append(
            [
                label,
                str(len(seeds)),
                f"{ratio:.2f}",
                " / ".join(f"{v:.2f}" for v in recovered).replace("-", MINUS),
                " / ".join(f"{v:.2f}" for v in spearman).replace("-", MINUS),
                "yes" if passed else "no",
                source(name),
            ]
        )
    return table(
        [
            "search",
            "seeds",
            "oracle / uniform error (worst seed)",
            "share of the oracle's advantage recovered, per seed",
            "Spearman of keep ratios, per seed",
            "meets the criterion",
            "source",
        ],
        rows,
    )


def quality_extreme() -> list[str]:
    name = "baselines_edges2shoes_extreme_seeds.json"
    specs = []
    for target in ("0.1", "0.05", "0.025"):
        pct = f"{float(target):.1%}".replace(".0%", "%")
        specs += [
            (b, pct, name, lambda d, t=target, b=b: d["coronet_minus_baseline"][f"{t} vs {b}"])
            for b in ("uniform", "magnitude")
        ]
        specs.append(
            ("*resolution: dense − uniform*", pct, name, lambda d, t=target: d["dense_minus_uniform"][t])
        )
    return _pairs(specs, ["psnr", "ssim", "l1"])[:-1] + [
        f"Source: {source(name)}, paired from `baselines_edges2shoes_extreme[_seedN].json`."]


VARIANT_NAMES = {"lean": "lean", "dhp": "DHP", "gated": "gated",
                 "lean3": "lean at DHP's pace (hypernetwork lr ×3)"}


def _variant(v: str) -> str:
    form, l1 = v.split("+")
    return f"{VARIANT_NAMES[form]}, {'L1 step' if l1 == 'l1' else 'no L1 step'}"


def _psnr(diff: dict | None) -> str:
    return "–" if diff is None else f"{cell(diff['psnr'], 'psnr')}, n {n_seeds(diff['psnr'])}"


def _step_ratio(form: str, size: int) -> str:
    """The Pix2Pix search step over its dense step for `form` (train_step_<form>_<size>.json)."""
    name = f"train_step_{form}_{size}.json"
    if not (RESULTS / name).is_file():
        return "–"
    return f"{load(name)['pix2pix']['rows']['search']['over_dense']:.2f}×"


def ablation() -> list[str]:
    """Each variant of the method (form x L1 step) on every measure, from ablation.json."""
    d = load("ablation.json")["summary"]
    planted, scratch, trained = d["planted"], d["scratch"], d["trained"]
    rows = []
    for v in d["variants"]:
        form = d["forms"][v]
        p = planted["variants"].get(v)
        defaults = [f"default {where}" for where, name in (("from scratch", d["defaults"]["scratch"]),
                    ("from a trained model", d["defaults"]["trained"])) if name == v]
        row = [_variant(v) + (f" (**{', '.join(defaults)}**)" if defaults else "")
               + (" (removed)" if v in d["retired"] else ""),
               f"{min(p['recovered']):.2f} / {min(p['spearman']):.2f}".replace("-", MINUS) if p else "–"]
        row += [_psnr(scratch[t]["variants"][v]["minus_uniform"]) for t in ("0.05", "0.025") if t in scratch]
        row += [_psnr(trained[t]["variants"][v]["minus_magnitude-uniform_val"]) for t in ("0.1", "0.05")
                if t in trained]
        trainable = d["trainable_over_dense"].get(form)
        row += [_step_ratio(form, 128), _step_ratio(form, 256), f"{trainable:.2f}×" if trainable else "–"]
        rows.append(row)
    header = ["variant", "planted: recovered / Spearman (worst of 3 seeds)"]
    header += [f"from scratch {float(t):.1%}: ΔPSNR vs uniform".replace(".0%", "%") for t in ("0.05", "0.025")
               if t in scratch]
    header += [f"from a trained model {float(t):.0%}: ΔPSNR vs magnitude pruning" for t in ("0.1", "0.05")
               if t in trained]
    header += ["Pix2Pix search step / dense, 128²", "256²", "trainable state / dense"]
    resolution = ["*resolution: dense − uniform*", "–"]
    resolution += [_psnr(scratch[t]["resolution"]) for t in ("0.05", "0.025") if t in scratch]
    resolution += ["–"] * (len(header) - len(resolution))
    caption = (f"CPU, 1 thread per run; edges2shoes-mini, ResNet-9 ngf 32, 128×128, search ≤ 300 + 300 "
               f"fine-tuning steps. Source: {source('ablation.json')}, the summary of "
               f"`ablation_planted[_seedN].json`, `ablation_scratch[_seedN].json` and "
               f"`ablation_trained[_seedN].json`.")
    return table(header, rows + [resolution]) + ["", caption]


TRAINED_ROWS = {"coronet": "coronet, defaults (search from the trained model, fine-tuned)",
                "magnitude-uniform": "magnitude pruning to uniform widths, fine-tuned",
                "magnitude-coronet-widths": "magnitude pruning to coronet's widths (lean + L1), fine-tuned",
                "uniform-scratch": "uniform widths from scratch"}


def _means_row(pct: str, label: str, m: dict, seeds: str) -> list[str]:
    val = m["val"]
    return [pct, label, seeds, f"{val['psnr']:.2f}", f"{val['ssim']:.3f}", f"{val['l1']:.4f}",
            f"{m['train']['psnr']:.2f}"]


def from_trained() -> list[str]:
    """The scenario users come with: a trained dense generator made small, from ablation.json."""
    summary = load("ablation.json")["summary"]
    d, default = summary["trained"], summary["defaults"]["trained"]
    if not d:
        return ["No trained-generator runs yet."]
    rows = []
    for target in [t for t in ("0.1", "0.05") if t in d]:
        e, pct = d[target], f"{float(target):.0%}"
        found = e["variants"][default]
        means = {"coronet": found["mean"], **e["rows"]}
        for key, label in TRAINED_ROWS.items():
            if means[key]["val"] is not None:
                rows.append(_means_row(pct, label, means[key], str(means[key]["val"]["seeds"])))
        pairs = [("coronet − magnitude, uniform widths", "minus_magnitude-uniform"),
                 ("coronet − magnitude, coronet's widths", "minus_magnitude-coronet-widths")]
        differences = [(label, found[f"{key}_val"], found[f"{key}_train"]) for label, key in pairs]
        differences.append(("*the width choice: magnitude at coronet's − at uniform widths*",
                            e["widths_matter"]["val"], e["widths_matter"]["train"]))
        for label, val, train in differences:
            if val is not None:
                rows.append([pct, label, n_seeds(val["psnr"]), cell(val["psnr"], "psnr"),
                             cell(val["ssim"], "ssim"), cell(val["l1"], "l1"), cell(train["psnr"], "psnr")])
    for key, label in (("dense_long", "dense, trained long (the starting point)"),
                       ("dense_short", "dense, trained as long as one compression run")):
        m = d["dense"][key]
        rows.append(_means_row("100%", f"{label}: {m['steps']} steps", m, "1"))
    header = ["MACs", "model", "seeds", "PSNR (val)", "SSIM (val)", "L1 (val)", "PSNR (30 training pairs)"]
    return table(header, rows) + ["", f"The same runs as the table above; source: {source('ablation.json')}."]


TABLES: dict[str, Callable[[], list[str]]] = {
    "latency": latency,
    "latency-mobile": lambda: latency("latency_mobile.json"),
    "step-cost-forms": step_cost_forms,
    "gpu": gpu,
    "planted": planted,
    "quality-extreme": quality_extreme,
    "ablation": ablation,
    "from-trained": from_trained,
}
BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- end -->)", re.S)


def render(text: str) -> str:
    """`text` with every generated table replaced by its rendering from the JSON."""

    def fill(m: re.Match) -> str:
        if m.group(2) not in TABLES:
            raise KeyError(
                f"docs/results.md names an unknown table {m.group(2)!r}; known: {', '.join(TABLES)}"
            )
        return m.group(1) + "\n".join(TABLES[m.group(2)]()) + "\n" + m.group(4)

    return BLOCK.sub(fill, text)


def cited_files(text: str) -> set[str]:
    """Every result file the rendered document cites (patterns expanded)."""
    names = set()
    for name in re.findall(r"`([\w.\-\[\]*]+\.json)`", text):
        if "[_seedN]" in name:
            names |= set(files(name.replace("[_seedN]", "_seed*")))
        elif is_run_pattern(name):
            names |= set(runs(name))
        else:
            names.add(name)
    return names


def is_run_pattern(name: str) -> bool:
    return any(slot in name for slot in SLOTS)


# `[S]` a size, `[N]` a run number, `[D]` a device and size (128, 256: CPU sizes; h200: a GPU)
SLOTS = {"[S]": r"(\d+)", "[N]": r"(\d+)", "[D]": r"([a-z]*\d+)"}


def runs(pattern: str) -> list[str]:
    """The files a pattern with slots (SLOTS) names, in order."""
    regex = re.escape(pattern)
    for slot, group in SLOTS.items():
        regex = regex.replace(re.escape(slot), group)
    found = [
        (tuple((0, int(g), "") if g.isdigit() else (1, 0, g) for g in m.groups()), p.name)
        for p in RESULTS.iterdir()
        if (m := re.fullmatch(regex, p.name))
    ]
    return [name for _, name in sorted(found)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only check: exit 1 if the document differs")
    args = p.parse_args()
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} differs from the results it cites: run python benchmarks/results_doc.py")
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
