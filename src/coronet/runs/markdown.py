"""report.md: the run's report.json for a person, rewritten after every command that adds to it."""

from __future__ import annotations

from typing import Any

SAMPLE_COLUMNS = {"pix2pix": "input | output | target",
                  "cyclegan": "input | translated | translated back by the other generator"}


def markdown(report: dict[str, Any]) -> str:
    """Training summary, then whatever `eval`, `export` and `bench` have added."""
    lines = [f"# coronet run: {report.get('model')} on {report.get('dataset')}", ""]
    if report.get("warnings"):
        lines += ["**Warnings**", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    lines += _targets(report.get("targets"))
    lines += _training(report)
    lines += _evaluation(report.get("evaluation"))
    lines += _exports(report.get("onnx"), "ONNX, onnxruntime")
    lines += _exports(report.get("pte"), "ExecuTorch programs, XNNPACK")
    lines += _latency(report.get("latency"))
    return "\n".join(lines)


def _training(report: dict[str, Any]) -> list[str]:
    compressed = report.get("compressed")
    lines = []
    if compressed and report.get("target"):
        tgt = report["target"]
        what = (f"ratio {tgt['ratio']:g}" if tgt.get("ratio") is not None
                else f"{tgt['absolute']:g} ms" if tgt["metric"] == "latency"
                else f"{tgt['absolute']:,.0f} absolute")
        lines += [f"Target: {tgt['metric']} {what}.", ""]
        lines += _latency_target(report.get("latency_target"))
    lines += ["| generator | dense MACs | MACs | dense params | params | achieved ratio | export diff "
              "| landing |", "|---|---|---|---|---|---|---|---|"]
    for name, g in report.get("generators", {}).items():
        landing = ("forced" if g.get("forced_landing") else "searched") if compressed else "-"
        lines.append(f"| {name} | {g['dense']['macs']:,} | {g['compressed']['macs']:,} | "
                     f"{g['dense']['params']:,} | {g['compressed']['params']:,} | "
                     f"{g.get('achieved_ratio', 1.0):.4f} | {g.get('export_max_abs_diff', 0):.2e} | "
                     f"{landing} |")
    if any(g.get("forced_landing") for g in report.get("generators", {}).values()):
        lines += ["", "A forced landing: the search ran out of steps before its planned path reached "
                  "the target, so the least important channels were removed at once to land on it. "
                  "More search steps (--search-steps) let the search choose."]
    for name, g in report.get("generators", {}).items():
        if "test_metrics" in g:
            m = g["test_metrics"]
            lines += ["", f"{name} on {m['images']} test pairs: PSNR {m['psnr']:.2f} dB, "
                      f"SSIM {m['ssim']:.4f}, L1 {m['l1']:.4f} (images in [0, 1])."]
    size = report.get("input_size", ["?", "?"])
    lines += ["", f"MACs counted by {report.get('counter')} at {size[0]}x{size[1]}, batch 1.", ""]
    if "timing" in report:
        t = report["timing"]
        lines += [f"Time: search {t['search_s']:.1f} s ({t['iterations']['search']} steps), export "
                  f"{t['export_s']:.1f} s, fine-tune {t['finetune_s']:.1f} s "
                  f"({t['iterations']['finetune']} steps), total {t['total_s']:.1f} s.", ""]
    columns = SAMPLE_COLUMNS.get(report.get("model"), "input | output | target")
    lines += [f"## Samples ({columns})", "", "![samples](samples.png)", ""]
    if compressed:
        lines += ["## Cost during the search", "", "![cost ratio](cost_ratio.png)", ""]
    lines += ["## Channels kept per latent group", ""]
    for name, g in report.get("generators", {}).items():
        if g.get("search"):
            d = g["search"]
            lines += [f"{name} search: {d['deaths']} channel deaths, {d['tie_decided_fraction']:.1%} "
                      f"decided among equal scores; keep ratios {d['uniform_distance']:.3f} from uniform "
                      f"thinning on average{'; the landing was forced' if g.get('forced_landing') else ''}.",
                      ""]
    lines += ["![widths](widths.png)", "",
              "Exported: " + ", ".join(f for files in report.get("exported", {}).values() for f in files),
              ""]
    return lines


def _targets(section: dict[str, Any] | None) -> list[str]:
    """The models of one search with several targets (`--target-macs 0.25 0.1 0.05`)."""
    if not section:
        return []
    lines = ["## One search, one model per target", "",
             "Each row is a run folder of its own (`coronet eval/export/bench/translate FOLDER`); `.` is "
             "this one, whose training summary follows.", "",
             "| folder | target | G MACs | M params | test PSNR dB | test SSIM | predicted ms "
             "| measured ms |",
             "|---|---|---|---|---|---|---|---|"]
    for m in section["models"]:
        t = m["target"]
        value = t["ratio"] if t.get("ratio") is not None else t["absolute"]
        target = f"{t['metric']} {value:g}"
        cells = [format(m[k], f) if k in m else "-" for k, f in
                 (("psnr", ".2f"), ("ssim", ".4f"), ("predicted_ms", ".3g"), ("measured_ms", ".3g"))]
        lines.append(f"| {m['folder']} | {target} | {m['macs'] / 1e9:.3f} | {m['params'] / 1e6:.3f} | "
                     + " | ".join(cells) + " |")
    if section.get("plot"):
        lines += ["", "![trade-off](tradeoff.png)"]
    return lines + [""]


def _latency_target(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    lines = [f"Latency on {section['runtime']}, batch 1 (target {section['target_ms']:.3g} ms):", "",
             "| generator | predicted by the latency model ms | measured after export ms |", "|---|---|---|"]
    lines += [f"| {name} | {row['predicted_ms']:.3g} | {row['measured_ms']:.3g} |"
              for name, row in section["generators"].items()]
    return lines + [""]


def _evaluation(evaluation: dict[str, Any] | None) -> list[str]:
    if not evaluation:
        return []
    lines = ["## Evaluation (`coronet eval`)", "",
             f"On {evaluation['dataroot']} ({evaluation['direction']}); {evaluation['checkpoint']}.", "",
             "| generator | GMACs | M params | images | FID | KID | PSNR dB | SSIM | L1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, m in evaluation["generators"].items():
        cells = [format(m[key], fmt) if m.get(key) is not None else "-"
                 for key, fmt in (("fid", ".2f"), ("kid", ".4f"), ("psnr", ".2f"), ("ssim", ".4f"),
                                  ("l1", ".4f"))]
        lines.append(f"| {name} | {m['macs'] / 1e9:.3f} | {m['params'] / 1e6:.3f} | {m['images']} | "
                     + " | ".join(cells) + " |")
    return lines + [""]


def _exports(section: dict[str, Any] | None, what: str) -> list[str]:
    if not section:
        return []
    lines = [f"## Exported for deployment: {what} (`coronet export`)", "",
             "| generator | file | PSNR vs PyTorch dB | max abs diff | size MB |", "|---|---|---|---|---|"]
    for name, by_dtype in section.items():
        for entry in by_dtype.values():
            lines.append(f"| {name} | {entry['path']} | {entry['psnr_db']:.2f} | "
                         f"{entry['max_abs_diff']:.2e} | {entry['size_bytes'] / 1e6:.2f} |")
    return lines + [""]


def _latency(latency: dict[str, Any] | None) -> list[str]:
    if not latency:
        return []
    lines = ["## Latency (`coronet bench`)", ""]
    for name, result in latency.items():
        lines += [f"{name}: {result['device']}, {result['threads']} threads, batch 1, "
                  f"{result['size'][0]}x{result['size'][1]}, median of {result['runs']} runs.", "",
                  "| model | runtime | median ms | p10 ms | p90 ms | output PSNR vs PyTorch FP32 |",
                  "|---|---|---|---|---|---|"]
        names = {label: model.get("name", label) for label, model in result["models"].items()}
        noisy = result.get("noisy", {})
        for key, t in result["latency_ms"].items():
            label, backend = key.split("|")
            psnr = result.get("psnr_db", {}).get(backend) if label == "run" else None
            flag = " (noisy)" if key in noisy else ""
            lines.append(f"| {names[label]} | {backend} | {t['median_ms']:.2f}{flag} | {t['p10_ms']:.2f} | "
                         f"{t['p90_ms']:.2f} | {f'{psnr:.1f} dB' if psnr is not None else '-'} |")
        reference = names.get(result.get("reference", "vs"), "--vs")
        for backend, s in result.get("speedup", {}).items():
            lines.append(f"\nSpeed-up over {reference} in {backend}: {s:.2f}x "
                         f"(MACs ratio {result['macs_ratio']:.2f}x).")
        if noisy:
            lines.append(f"\nNoisy timings (p90/p10 above 1.5: {', '.join(noisy)}): other programs shared "
                         f"the CPU; time again on a quiet machine.")
        lines += ["", f"![latency against MACs](latency_{name}.png)", ""]
    return lines
