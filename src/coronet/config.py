"""Run configuration: typed dataclasses, YAML presets, `--set section.field=value` overrides.

A run is fully described by one `RunConfig`; the resolved config is written to the run folder,
and `coronet compress --dry-run` prints it. Presets (`coronet/presets/*.yaml`) hold the paper's
settings; any field can be overridden on the command line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from coronet.errors import ConfigError


@dataclass
class DataConfig:
    dataroot: str = "builtin:edges2shapes"  # a folder, or builtin:NAME (no download)
    direction: str = "AtoB"
    load_size: int = 72
    crop_size: int = 64
    preprocess: str = "resize_and_crop"
    flip: bool = True
    batch_size: int = 4
    num_workers: int = 0
    skip_bad_images: bool = False
    max_train_items: int | None = None  # use only the first N training samples


@dataclass
class ModelConfig:
    netG: str = "resnet_9blocks"
    ngf: int = 16
    norm: str | None = None  # None: the reference default (instance for ResNet, batch for U-Net)
    use_dropout: bool | None = None  # None: the reference default (on for U-Net in Pix2Pix)
    netD: str = "basic"
    ndf: int = 64
    normD: str | None = None  # None: batch for Pix2Pix, instance for CycleGAN
    embedding_dim: int = 8
    # None: normal (DHP's draw) from scratch, ones from init_from; norms: init_from's filter norms
    latent_init: str | None = None
    scale_free_output: bool = False  # the image-writing conv ignores the common scale of its latents
    init_from: str | None = None  # a dense generator checkpoint (.pth) to start from
    init_from_B: str | None = None  # CycleGAN: the B->A generator's checkpoint


@dataclass
class PruneConfig:
    metric: str = "macs"  # macs | params
    ratio: float | None = 0.25  # target share of the dense generator's cost
    absolute: float | None = None  # or an absolute MACs / params count
    ratio_B: float | None = None  # CycleGAN: target of G_B (default: same as G_A)
    tolerance: float = 0.02
    threshold: float = 5e-3
    min_channels: int = 4
    reach_fraction: float = 0.75
    check_every: int = 10
    gamma: float | None = None


@dataclass
class TrainConfig:
    model: str = "pix2pix"  # pix2pix | cyclegan
    gan_mode: str | None = None  # None: vanilla for Pix2Pix, lsgan for CycleGAN
    lambda_L1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    hyper_lr_scale: float = 1.0  # the hypernetworks' lr as a share of lr (kernels move ~6x a conv's)
    hyper_lr_final_scale: float | None = None  # if set, the share falls geometrically from
    # hyper_lr_scale to this by the search's planned landing
    search_steps: int = 600  # the search budget (it ends earlier once the target is met)
    finetune_steps: int = 600
    finetune_init: str = "searched"  # searched: go on from the search's weights | scratch: fresh init
    # | shrink-perturb: the mean of the two
    decay_steps: int = 300  # last steps of fine-tuning with linearly decaying LR
    finetune_warmup_steps: int = 0  # first fine-tuning steps with the compact generator's LR rising
    # linearly: its fresh Adam moves every weight by about lr in its first steps
    search_epochs: float | None = None  # if set, overrides search_steps (epochs of the train set)
    finetune_epochs: float | None = None
    decay_epochs: float | None = None
    seed: int = 0
    device: str = "cpu"
    deterministic: bool = True
    compile: bool = False  # torch.compile the generators: on a GPU it fuses the hypernetworks' many
    # small kernels (benchmarks/gpu.py, "compile"); the first step compiles, 20-60 s
    log_every: int = 20
    sample_every: int = 200
    checkpoint_every: int = 200


@dataclass
class RunConfig:
    name: str | None = None
    out: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Build a RunConfig from nested dicts, refusing unknown keys with the valid ones listed."""
    cfg = RunConfig()
    _merge(cfg, data, "")
    return cfg


def _merge(obj: Any, data: dict[str, Any], prefix: str) -> None:
    hints = get_type_hints(type(obj))
    names = {f.name for f in fields(obj)}
    for key, value in (data or {}).items():
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}'; valid: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key} must be a mapping")
            _merge(current, value, f"{prefix}{key}.")
        else:
            setattr(obj, key, _coerce(value, hints[key], f"{prefix}{key}"))


def _coerce(value: Any, hint: Any, name: str) -> Any:
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if "None" in text:
            return None
        raise ConfigError(f"{name} cannot be empty")
    try:
        if "bool" in text and not isinstance(value, bool):
            if str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if "int" in text and "float" not in text and not isinstance(value, bool):
            number = float(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        if "float" in text:
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a valid {text}") from None
    if "str" in text and not isinstance(value, str):
        return str(value)
    return value


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
    """Apply `section.field=value` strings (the CLI's --set)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects section.field=value (got {item!r})")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        nested: dict[str, Any] = {}
        cursor = nested
        for p in parts[:-1]:
            cursor = cursor.setdefault(p, {})
        cursor[parts[-1]] = yaml.safe_load(value) if value.strip() else None
        _merge(cfg, nested, "")
    return cfg
