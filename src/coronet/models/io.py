"""Generator files: reference checkpoints in, compact generators out (and back in).

A compact generator is stored as `NAME.safetensors` (weights) beside `NAME.json` (the registered
architecture, its arguments and the width of every latent group), never as a pickle: rebuilding it
needs only `coronet.models`, no hypernetwork and no training code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coronet.errors import CheckpointError
from coronet.files import atomic_write, load_weights_only
from coronet.models.base import Generator, get_generator

FORMAT = "coronet-generator"
FORMAT_VERSION = 1


def load_reference_state_dict(generator: Generator, path: str | Path) -> None:
    """Load a pytorch-CycleGAN-and-pix2pix `*_net_G.pth` (or our own dense state dict) in place."""
    path = Path(path)
    state = load_weights_only(path, "PyTorch state dict", f"generator checkpoint {path} does not exist")
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    own = generator.state_dict()
    cleaned = {}
    for key, value in state.items():
        key = key.removeprefix("module.")  # saved from DataParallel
        # InstanceNorm running stats written by PyTorch < 0.4 (the reference drops them too)
        if key not in own and key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        cleaned[key] = value
    missing = sorted(set(own) - set(cleaned))
    unexpected = sorted(set(cleaned) - set(own))
    wrong = sorted(k for k in set(own) & set(cleaned) if own[k].shape != cleaned[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path} does not fit {generator.spec.name} with {generator.spec.kwargs}: "
            f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
            f"{len(wrong)} of another shape {wrong[:3]}. Check --netG, --ngf and --norm.")
    generator.load_state_dict(cleaned)


def save_generator(generator: Generator, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `path.safetensors` and `path.json` atomically; returns the weights path."""
    from safetensors.torch import save_file

    base = Path(path)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **generator.spec.to_dict(),
            "widths": generator.widths, "dense_widths": generator.layout.dense_widths(),
            **(extra or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    weights = base.with_suffix(".safetensors")
    atomic_write(weights, lambda tmp: save_file(tensors, str(tmp)))
    atomic_write(base.with_suffix(".json"),
                  lambda tmp: tmp.write_text(json.dumps(meta, indent=2, sort_keys=True)))
    return weights


def load_generator(path: str | Path) -> Generator:
    """Rebuild a generator saved by `save_generator` from its `.safetensors` or `.json` path."""
    from safetensors.torch import load_file

    base = Path(path)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    meta_path, weights_path = base.with_suffix(".json"), base.with_suffix(".safetensors")
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise CheckpointError(f"{p} is missing; a compact generator is a .json + .safetensors pair")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a coronet generator description")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{meta_path} was written by a newer coronet; upgrade coronet")
    generator = get_generator(meta["name"], widths=meta["widths"], **meta["kwargs"])
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds on corrupt files
        raise CheckpointError(f"{weights_path} is not a readable safetensors file ({exc})") from None
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights_path} does not match {meta_path}: {exc}") from None
    return generator.eval()
