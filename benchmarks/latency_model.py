"""How well does a latency model predict the exported generator's time? The model `coronet compress
--target-latency` spends is fitted (`coronet.deploy.latency_model.calibrate`: the dense widths and
--samples random settings), then checked on --check other random settings, all
timed in one process on the runtime, data type and threads given.

    python benchmarks/latency_model.py                       # mobile ResNet and ResNet-9, ngf 64, 256²
    python benchmarks/latency_model.py --netG mobile_resnet_9blocks --size 128 --samples 8 --check 6
    python benchmarks/latency_model.py --netG mobile_resnet_9blocks --size 128 --landing 0.5 0.3 \
        --out benchmarks/results/latency_landing.json   # searches that spend it, then measured

Writes benchmarks/results/latency_model.json and its table, latency-model.md. The goal is a median
error of at most 5 % and a worst of at most 15 % over the check settings; on a shared machine the
time of one setting measured twice differs too, so the table shows that repeat error beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from common import environment, load, source, table, write_result
from coronet.cli.main import main as coronet
from coronet.deploy import latency_model as lm
from coronet.models import get_generator
from coronet.pruning import CostModel

NETWORKS = ("mobile_resnet_9blocks", "resnet_9blocks")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "edges2shoes-mini"


def check(netG: str, ngf: int, size: int, runtime: lm.Runtime, samples: int, checks: int, runs: int) -> dict:
    """The fit and the check settings timed together (a slow spell of the machine between two timings
    would otherwise count as the model's error), then the check settings timed again."""
    dense = get_generator(netG, ngf=ngf)
    shape = (size, size)
    cost = CostModel(dense, shape)
    fitted = lm.calibration_settings(cost, 4, samples)
    rng = np.random.default_rng(1)
    settings = [lm.random_widths(cost, rng, 4) for _ in range(checks)]
    start = time.perf_counter()
    timed = lm.measure_settings(dense, shape, runtime, fitted + settings, runs, f"{netG}: fit and check")
    model = lm.fit_model(cost, fitted, timed[:len(fitted)])
    elapsed = time.perf_counter() - start
    first = timed[len(fitted):]
    again = lm.measure_settings(dense, shape, runtime, settings, runs, f"{netG}: repeat")
    predicted = [lm.predict_us(model["weights"], cost, w) / 1e3 for w in settings]
    return {"netG": netG, "ngf": ngf, "size": size, "model": model, "seconds": elapsed,
            "check": {"widths": settings, "predicted_ms": predicted, "measured_ms": first,
                      "repeat_ms": again,
                      "error": lm.error_summary([p / m - 1 for p, m in zip(predicted, first, strict=True)]),
                      "repeat_error": lm.error_summary(
                          [b / a - 1 for a, b in zip(first, again, strict=True)])}}


def landing(result: dict, runtime: lm.Runtime, fractions: list[float], search_steps: int) -> list[dict]:
    """`coronet compress --target-latency` (search only, Pix2Pix on edges2shoes-mini) at these
    shares of the dense model's predicted latency, spending the model just fitted: where the
    exported generator's measured time lands against its target."""
    dense = get_generator(result["netG"], ngf=result["ngf"])
    shape = (result["size"],) * 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CORONET_CACHE"] = tmp
        path, _ = lm.cached(dense, shape, runtime)
        model = {"key": lm.cache_key(dense, shape, runtime), **result["model"]}
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(model))
        cost = CostModel(dense, shape)
        dense_ms = lm.predict_us(result["model"]["weights"], cost, cost.dense_widths) / 1e3
        for fraction in fractions:
            out = Path(tmp) / f"runs{fraction:g}"
            args = ["compress", "--dataroot", str(DATA), "--model", "pix2pix", "--netG", result["netG"],
                    "--ngf", str(result["ngf"]), "--load-size", str(result["size"]), "--crop-size",
                    str(result["size"]), "--batch-size", "1", "--search-steps", str(search_steps),
                    "--finetune-steps", "0", "--target-latency", f"{fraction * dense_ms:.4f}",
                    "--latency-runtime", runtime.name, "--latency-dtype", runtime.dtype,
                    "--latency-threads", str(runtime.threads), "--out", str(out),
                    "--set", "data.preprocess=resize", "--set", "train.sample_every=0"]
            if coronet(args) != 0:
                raise SystemExit("a landing run failed")
            report = json.loads((next(out.iterdir()) / "report.json").read_text())
            section = report["latency_target"]
            row = section["generators"]["G_A"]
            rows.append({"fraction": fraction, "target_ms": section["target_ms"], **row,
                         "measured_over_target": row["measured_ms"] / section["target_ms"]})
    return rows


def render(name: str = "latency_model.json") -> list[str]:
    d = load(name)
    rows = []
    for r in d["networks"]:
        e, rep, fit = r["check"]["error"], r["check"]["repeat_error"], r["model"]["fit_error"]
        m = r["model"]
        rows.append([f"{r['netG']} ngf {r['ngf']}", f"{m['dense_ms']:.1f}",
                     f"{fit['median']:.1%} / {fit['worst']:.1%}", f"{e['median']:.1%} / {e['worst']:.1%}",
                     f"{rep['median']:.1%} / {rep['worst']:.1%}", f"{r['seconds'] / 60:.1f} min"])
    s, env = d["setup"], d["environment"]
    return table(["generator", "dense ms", "fit error, median / worst",
                  f"error on {s['checks']} other settings", "same settings timed again",
                  "time to time them all"],
                 rows) + [
        "", f"{s['runtime']}, batch 1, {s['size']}², {env['device']}; fitted on the dense widths "
        f"and {s['samples']} random settings, each timed alone (median of {s['runs']} runs); errors: "
        f"|predicted / measured − 1|. Source: {source(name)}."]


def render_landing(name: str = "latency_landing.json") -> list[str]:
    d = load(name)
    rows = [[f"{r['netG']} ngf {r['ngf']}, {r['size']}²", f"{row['fraction']:g} × dense",
             f"{row['target_ms']:.2f}", f"{row['predicted_ms']:.2f}", f"{row['measured_ms']:.2f}",
             f"{row['measured_over_target']:.3f}"]
            for r in d["networks"] for row in r["landing"]]
    s = d["setup"]
    return table(["generator", "target", "target ms", "predicted ms", "measured ms", "measured / target"],
                 rows) + ["", f"Searches of {s['search_steps']} steps (Pix2Pix), {s['runtime']}; the export "
                          f"timed after (median of 30 runs). Goal: [0.90, 1.05] × target. "
                          f"Source: {source(name)}."]


TABLES = {"latency-model": render, "latency-landing": render_landing}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--netG", nargs="+", default=list(NETWORKS))
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--runtime", default="onnxruntime", choices=tuple(lm.RUNTIMES))
    p.add_argument("--dtype", default="fp32", choices=lm.LATENCY_DTYPES)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--check", type=int, default=20)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--landing", type=float, nargs="*", default=[],
                   help="also search to these shares of the dense latency and measure the result")
    p.add_argument("--search-steps", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latency_model.json")
    args = p.parse_args()
    runtime = lm.Runtime(args.runtime, args.dtype, args.threads)
    networks = [check(n, args.ngf, args.size, runtime, args.samples, args.check, args.runs)
                for n in args.netG]
    for result in networks if args.landing else []:
        result["landing"] = landing(result, runtime, args.landing, args.search_steps)
    setup = {"runtime": runtime.describe(), "size": args.size, "samples": args.samples, "checks": args.check,
             "runs": args.runs, "search_steps": args.search_steps}
    table_of_this_run = "latency-landing" if args.landing else "latency-model"
    write_result(args.out, {"environment": environment(), "setup": setup, "networks": networks},
                 {table_of_this_run: TABLES[table_of_this_run]})


if __name__ == "__main__":
    main()
