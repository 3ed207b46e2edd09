"""Generator files: reference checkpoints in, compact generators out (and back in).

A compact generator is stored as `NAME.safetensors` (weights) beside `NAME.json` (the registered
architecture, its arguments and the width of every latent group), never as a pickle: rebuilding it
needs only `coronet.models`, no hypernetwork and no training code.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from coronet.errors import CheckpointError, CoronetError, NonFiniteError
from coronet.files import atomic_write, load_weights_only
from coronet.models.base import MAX_SIDE, Generator, get_generator

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
    if _mismatch(own, cleaned):
        for shift in (-1, 1):  # residual blocks laid out with / without a Dropout between the convs
            moved = {_shift_block_index(k, shift): v for k, v in cleaned.items()}
            if not _mismatch(own, moved):
                print(f"note: {path} lays its residual blocks out {'with' if shift < 0 else 'without'} a "
                      f"dropout layer (GAN Compression's ResNets keep a Dropout(0) there); loaded into "
                      f"blocks {'without' if shift < 0 else 'with'} one", file=sys.stderr)
                cleaned = moved
                break
    problem = _mismatch(own, cleaned)
    if problem:
        raise CheckpointError(f"{path} does not fit {generator.spec.name} with {generator.spec.kwargs}: "
                              f"{problem}. {_hint(state, generator)}")
    bad = next((k for k, v in cleaned.items() if torch.is_tensor(v) and v.is_floating_point()
                and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise NonFiniteError(f"{path} holds NaN or infinite values ({bad}): it is a diverged training, not a "
                             f"model to start from")
    generator.load_state_dict(cleaned)


def _mismatch(own: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if not (missing or unexpected or wrong):
        return ""
    return (f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
            f"{len(wrong)} of another shape {wrong[:3]}")


def _shift_block_index(key: str, shift: int) -> str:
    """`model.10.conv_block.6.weight` -> `model.10.conv_block.5.weight` (shift -1): the layers after
    a residual block's dropout slot move by one when the dropout is there or not."""
    m = re.match(r"(.*\.conv_block\.)(\d+)(\..*)$", key)
    if m is None or int(m.group(2)) < (5 if shift < 0 else 4):
        return key
    return f"{m.group(1)}{int(m.group(2)) + shift}{m.group(3)}"


def _hint(state: Mapping[str, Any], generator: Generator) -> str:
    """The settings that make this checkpoint fit, as options `coronet compress` takes."""
    has_batch_stats = any(k.endswith("running_mean") for k in state)
    norm = generator.spec.kwargs.get("norm")
    if has_batch_stats and norm != "batch":
        return ("It was trained with batch norm (it holds running statistics): add --set model.norm=batch"
                " (the reference's Pix2Pix ResNets also use dropout: --set model.use_dropout=true)")
    if not has_batch_stats and norm == "batch":
        return "It holds no batch-norm statistics: add --set model.norm=instance"
    return "Check --netG and --ngf (and --set model.norm / model.use_dropout) against how it was trained"


def non_finite_entry(module: torch.nn.Module) -> str | None:
    """The name of the first parameter or buffer of `module` holding a NaN or an infinity, or None."""
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def save_generator(generator: Generator, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write `path.safetensors` and `path.json` atomically; returns the weights path. Weights that
    are not finite are refused: they are a diverged training, not a model."""
    from safetensors.torch import save_file

    bad = non_finite_entry(generator)
    if bad is not None:
        raise NonFiniteError(f"{bad} of the generator holds NaN or infinite values; {Path(path).name} is not "
                             f"written (the training diverged: lower the learning rate)")
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


def read_generator_meta(path: str | Path) -> dict[str, Any]:
    """The `.json` description of an exported generator, checked to be one."""
    meta_path = Path(path).with_suffix(".json")
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path} is missing; give a run folder or an exported generator "
                              "(.json beside its .safetensors)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is not valid JSON ({exc}); restore the file written by the "
                              "run") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a coronet generator description")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{meta_path} was written by a newer coronet; upgrade coronet")
    size = meta.get("input_size")
    whole = isinstance(size, int) and not isinstance(size, bool)
    if size is not None and not (whole and 1 <= size <= MAX_SIDE):
        raise CheckpointError(f"{meta_path} gives input_size {size!r}; it must be an integer from 1 to "
                              f"{MAX_SIDE}")
    return meta


def load_generator(path: str | Path) -> Generator:
    """Rebuild a generator saved by `save_generator` from its `.safetensors` or `.json` path."""
    from safetensors.torch import load_file

    base = Path(path)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    meta_path, weights_path = base.with_suffix(".json"), base.with_suffix(".safetensors")
    meta = read_generator_meta(meta_path)
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path} is missing; a compact generator is a .json + "
                              ".safetensors pair")
    try:
        generator = get_generator(meta["name"], widths=meta["widths"], **meta["kwargs"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, CoronetError) as exc:
        raise CheckpointError(f"{meta_path} does not describe a generator coronet can build "
                              f"({type(exc).__name__}: {exc}); restore the file written by the run") from None
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds on corrupt files
        raise CheckpointError(f"{weights_path} is not a readable safetensors file ({exc})") from None
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights_path} does not match {meta_path}: {exc}") from None
    return generator.eval()
