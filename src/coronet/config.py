"""Run configuration: frozen typed dataclasses, YAML presets, `--set section.field=value` overrides.

A run is fully described by one `RunConfig`. It is built once (preset -> YAML -> flags -> `--set`)
and never changed in place: every change makes a new config, and every value, whether it comes from
YAML, JSON or the command line, is converted by the type its field declares, so a wrong value is
one error naming the field, the type and the value. `docs/usage.md` describes every field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from coronet.errors import ConfigError


def number(value: float) -> str:
    """A bound or value as a message shows it: integers whole, other numbers short."""
    whole = math.isfinite(value) and value == int(value) and abs(value) < 1e15
    return str(int(value)) if whole else f"{value:g}"


class Length(str):
    """How long a phase runs, as written: "1200 steps" (optimiser steps; a bare number is steps) or
    "5 epochs" (passes over the training set, turned into steps once the data is listed). One field
    per phase, so that a preset's epochs and a flag's steps cannot both be set and disagree."""

    def __new__(cls, value: str | int | float) -> Length:
        text = str(value).strip().lower()
        words = text.split()
        unit = {"step": "steps", "steps": "steps", "epoch": "epochs", "epochs": "epochs"}.get(
            words[1] if len(words) == 2 else "steps")
        try:
            count = float(words[0]) if len(words) in (1, 2) and unit else math.nan
        except ValueError:
            count = math.nan
        if not 0 <= count <= 1e9 or (unit == "steps" and count != int(count)):
            raise ValueError(f"takes a length: a whole number of steps (1200 or '1200 steps') or of "
                             f"epochs ('5 epochs'); {value!r} is not one")
        return super().__new__(cls, f"{number(count)} {unit}")

    @property
    def unit(self) -> str:
        return self.split()[1]

    @property
    def count(self) -> float:
        return float(self.split()[0])

    @property
    def steps(self) -> int:
        """The length in optimiser steps (a length in epochs has none until `in_steps`)."""
        if self.unit != "steps":
            raise ConfigError(f"a length of {self} has no step count until the training set is listed")
        return int(self.count)

    def in_steps(self, steps_per_epoch: int) -> Length:
        return self if self.unit == "steps" else Length(math.ceil(self.count * steps_per_epoch))


PHASE_LENGTHS = ("search", "finetune", "decay")  # the TrainConfig fields that are Lengths


@dataclass(frozen=True)
class DataConfig:
    dataroot: str = "builtin:edges2shapes"  # a folder, or builtin:NAME (drawn by the package)
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    load_size: int = 72
    crop_size: int = 64
    preprocess: Literal["resize_and_crop", "resize", "crop", "none"] = "resize_and_crop"
    flip: bool = True
    batch_size: int = 4
    num_workers: int = 0
    skip_bad_images: bool = False
    max_train_items: int | None = None  # use only the first N training samples


@dataclass(frozen=True)
class ModelConfig:
    netG: str = "resnet_9blocks"
    ngf: int = 16
    norm: Literal["instance", "batch", "none"] | None = None  # None: the reference's for netG
    use_dropout: bool | None = None  # None: the reference default (on for U-Net in Pix2Pix)
    netD: str = "basic"
    ndf: int = 64
    normD: Literal["instance", "batch", "none"] | None = None  # None: batch (Pix2Pix), instance (CycleGAN)
    hypernet: Literal["lean", "dhp"] = "lean"  # how kernels are generated (docs/method.md)
    embedding_dim: int = 8  # the dhp form's m
    init_from: str | None = None  # a dense generator checkpoint to start from
    init_from_B: str | None = None  # CycleGAN: the B->A generator's checkpoint
    widths: str | None = None  # `coronet train`: a generator file whose widths to train at
    widths_B: str | None = None  # CycleGAN: the same for the B->A generator
    init_D_from: str | None = None  # a run checkpoint whose discriminators to start from


@dataclass(frozen=True)
class PruneConfig:
    metric: Literal["macs", "params", "latency"] = "macs"
    ratio: float | None = 0.25  # target share of the dense generator's cost
    absolute: float | None = None  # or an absolute MACs / params count, or milliseconds
    ratio_B: float | None = None  # CycleGAN: target of G_B (default: same as G_A)
    absolute_B: float | None = None  # or G_B's absolute count
    also: tuple[float, ...] = ()  # larger targets of the same kind, each forked from this run's search
    tolerance: float = 0.02
    min_channels: int = 4
    reach_fraction: float = 0.75
    shrink: float = 0.0  # the paper's proximal L1 step (0.3 reproduces it; off by default)
    importance_decay: float = 0.9
    latency_runtime: Literal["onnxruntime", "executorch"] = "onnxruntime"  # what a latency target runs on
    latency_dtype: Literal["fp32", "int8"] = "fp32"
    latency_threads: int = 2
    latency_model: str | None = None  # the measured model a latency target spends (set by compress)


@dataclass(frozen=True)
class TrainConfig:
    model: Literal["pix2pix", "cyclegan"] = "pix2pix"
    gan_mode: Literal["vanilla", "lsgan", "hinge"] | None = None  # None: vanilla (Pix2Pix), lsgan (CycleGAN)
    lambda_L1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    hyper_lr_scale: float | None = None  # the hypernetworks' lr as a share of lr; None: from scratch
    # 3.0 in the lean form and 1.0 in DHP's (the same pace), 0.1 from a dense checkpoint (model.init_from)
    search: Length = Length("1200 steps")  # the search budget (it ends earlier once the target is met)
    finetune: Length = Length("1500 steps")
    decay: Length = Length("750 steps")  # the last part of fine-tuning, with linearly decaying LR
    seed: int = 0
    device: str = "cpu"
    deterministic: bool = True
    compile: bool = False  # torch.compile the generators (pays on a GPU, not on the CPU)
    log_every: int = 20
    sample_every: int = 200
    checkpoint_every: int = 200


@dataclass(frozen=True)
class RunConfig:
    name: str | None = None
    out: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lengths as plain strings): what a checkpoint's weights-only loader accepts."""
        return asdict(self, dict_factory=lambda items: {k: str(v) if isinstance(v, Length) else v
                                                        for k, v in items})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def updated(self, changes: Mapping[str, Any]) -> RunConfig:
        """A copy with the `section.field` keys of `changes` set, each value converted by the
        field's declared type (strings are parsed, as `--set` gives them)."""
        nested: dict[str, Any] = {}
        for key, value in changes.items():
            *sections, last = key.strip().split(".")
            cursor = nested
            for part in sections:
                cursor = cursor.setdefault(part, {})
            cursor[last] = value
        return _merge(self, nested, "")


def from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Build a RunConfig from nested dicts (a preset, a run's config.json), refusing unknown keys."""
    return _merge(RunConfig(), data or {}, "")


def from_saved(data: Mapping[str, Any]) -> RunConfig:
    """The config a run saved (config.json, a checkpoint). Runs saved before `model.hypernet`
    existed generated their kernels in DHP's form, so they continue in it."""
    model = data.get("model") if isinstance(data, Mapping) else None
    if isinstance(model, Mapping) and "hypernet" not in model:
        data = {**data, "model": {**model, "hypernet": "dhp"}}
    train = data.get("train") if isinstance(data, Mapping) else None
    if isinstance(train, Mapping) and any(old in train for old in RENAMED):
        data = {**data, "train": lengths_from_old_fields(train)}
    return from_dict(data)


# Runs saved before the phase lengths were one field each held a steps and an epochs field per phase.
RENAMED = {f"{phase}_{unit}": phase for phase in PHASE_LENGTHS for unit in ("steps", "epochs")}


def lengths_from_old_fields(train: Mapping[str, Any]) -> dict[str, Any]:
    """A saved train section with `search_steps`/`search_epochs` (and so on) as `search`: the steps,
    which a saved run had already resolved from its epochs."""
    out = {k: v for k, v in train.items() if k not in RENAMED}
    for phase in PHASE_LENGTHS:
        steps, epochs = train.get(f"{phase}_steps"), train.get(f"{phase}_epochs")
        if steps is not None or epochs is not None:
            out[phase] = steps if steps is not None else f"{epochs} epochs"
    return out


@dataclass(frozen=True)
class Range:
    """The values a numeric field takes: `low` to `high` (None: unbounded), each end included
    unless marked open. Every number must also be finite."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.high_open and value == self.high))

    def describe(self) -> str:
        if self.high is None:
            return f"a finite number {'>' if self.low_open else '>='} {number(self.low)}"
        return (f"in {'(' if self.low_open else '['}{number(self.low)}, {number(self.high)}"
                f"{')' if self.high_open else ']'}")


MAX_SIDE = 8192  # image sides: far beyond the published 256-1024, short of exhausting a machine's memory
SIDE = Range(1, MAX_SIDE)
SHARE = Range(0, 1, low_open=True)
# Every bounded field and the values it takes, checked whenever a config is built or changed.
BOUNDS: dict[str, Range] = {
    "data.load_size": SIDE, "data.crop_size": SIDE, "data.batch_size": Range(1, 65536),
    "data.num_workers": Range(0, 1024), "data.max_train_items": Range(1),
    "model.ngf": Range(1, 4096), "model.ndf": Range(1, 4096), "model.embedding_dim": Range(1, 1024),
    "prune.ratio": SHARE, "prune.ratio_B": SHARE, "prune.absolute": Range(0, low_open=True),
    "prune.absolute_B": Range(0, low_open=True),
    "prune.tolerance": Range(0, 0.5), "prune.min_channels": Range(1), "prune.reach_fraction": SHARE,
    "prune.shrink": Range(0, 10), "prune.importance_decay": Range(0, 1, high_open=True),
    "prune.latency_threads": Range(1, 1024),
    "train.lambda_L1": Range(0, 1e6), "train.lambda_cycle": Range(0, 1e6),
    "train.lambda_identity": Range(0, 1e3), "train.pool_size": Range(0, 1e6),
    "train.lr": Range(0, 1, low_open=True), "train.beta1": Range(0, 1, high_open=True),
    "train.hyper_lr_scale": Range(0, 1e3, low_open=True),
    "train.seed": Range(0, 2**32 - 1),
    "train.log_every": Range(1), "train.sample_every": Range(0), "train.checkpoint_every": Range(0),
}


def check_bound(key: str, value: Any) -> Any:
    """`value` if the field `key` takes it (None always passes: the field is unset)."""
    bound = BOUNDS.get(key)
    if bound is None or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if not bound.admits(value):
        raise ConfigError(f"{key} must be {bound.describe()} (got {number(value)})")
    return value


def _merge(obj: Any, data: Mapping[str, Any], prefix: str) -> Any:
    hints = get_type_hints(type(obj))
    names = [f.name for f in fields(obj)]
    changes = {}
    for key, value in data.items():
        if key not in names and key in RENAMED and prefix == "train.":
            raise ConfigError(f"train.{key} is now train.{RENAMED[key]}, a length in steps or epochs "
                              f"(e.g. {RENAMED[key]}: 1200 steps, or {RENAMED[key]}: 5 epochs)")
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}'; valid: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{prefix}{key} is a section: give its fields ({prefix}{key}.FIELD=...)")
            changes[key] = _merge(current, value, f"{prefix}{key}.")
        else:
            changes[key] = check_bound(f"{prefix}{key}", convert(value, hints[key], f"{prefix}{key}"))
    return dataclasses.replace(obj, **changes)


def convert(value: Any, hint: Any, name: str) -> Any:
    """`value` as the type `hint` declares; a string is parsed (`--set` and some YAML give strings)."""
    if get_origin(hint) in (Union, types.UnionType):
        inner = next(a for a in get_args(hint) if a is not type(None))
        literal = get_origin(inner) is Literal and value in get_args(inner)  # e.g. norm "none"
        if value is None or (not literal and isinstance(value, str)
                             and value.strip().lower() in ("none", "null", "")):
            return None
        return convert(value, inner, name)
    text = value.strip() if isinstance(value, str) else value
    if hint is Length:
        try:
            return Length(value)
        except ValueError as exc:
            raise ConfigError(f"{name} {exc}") from None
    if get_origin(hint) is tuple:  # tuple[X, ...]: a list, or a text of items split by spaces or commas
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{name} takes a list of {describe(get_args(hint)[0])}s; {value!r} is not one")
        return tuple(convert(item, get_args(hint)[0], name) for item in items)
    try:
        if get_origin(hint) is Literal:
            if text in get_args(hint):
                return text
        elif hint is bool:
            if isinstance(text, bool):
                return text
            words = {"true": True, "yes": True, "on": True, "1": True,
                     "false": False, "no": False, "off": False, "0": False}
            if isinstance(text, str) and text.lower() in words:
                return words[text.lower()]
        elif hint is int:
            number = float(text) if isinstance(text, str) else text
            if isinstance(number, (int, float)) and not isinstance(number, bool) and number == int(number):
                return int(number)
        elif hint is float:
            if not isinstance(text, bool):
                return float(text)
        elif hint is str:
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
    except (TypeError, ValueError, OverflowError):
        pass
    raise ConfigError(f"{name} takes {describe(hint)}; {value!r} is not one")


def describe(hint: Any) -> str:
    """A field's type as an error message says it."""
    if get_origin(hint) in (Union, types.UnionType):
        options = [describe(a) for a in get_args(hint) if a is not type(None)]
        return " or ".join(options) + " or none"
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, get_args(hint)))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a text",
            Length: "a length (N steps or N epochs)"}.get(hint, str(hint))


def field_names(cfg: Any = None, prefix: str = "") -> list[str]:
    """Every settable key, `section.field`, in declaration order."""
    cfg = cfg if cfg is not None else RunConfig()
    out = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out += field_names(value, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def load_preset(name_or_path: str) -> dict[str, Any]:
    """A preset by name (`coronet/presets/NAME.yaml`) or a YAML file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text = path.read_text()
    else:
        stem = path.stem if path.suffix in (".yaml", ".yml") else name_or_path
        ref = resources.files("coronet") / "presets" / f"{stem}.yaml"
        if not ref.is_file():
            raise ConfigError(f"no preset or YAML file {name_or_path!r}; presets: "
                              f"{', '.join(list_presets())}")
        text = ref.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name_or_path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name_or_path} must hold a mapping of config sections")
    return data


def list_presets() -> list[str]:
    folder = resources.files("coronet") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """`cfg` with the CLI's `--set section.field=value` strings applied, in order."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects section.field=value (got {item!r})")
        cfg = cfg.updated({key: value})
    return cfg
