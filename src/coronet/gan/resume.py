"""What a resumed run may change: how it executes, never what it computes."""

from __future__ import annotations

from typing import Any

from coronet.config import RunConfig, apply_overrides, from_saved
from coronet.errors import ConfigError

# how a run executes, not what it computes (skip_bad_images: a file that broke after the start)
RESUME_SETTABLE = ("train.compile", "data.num_workers", "data.skip_bad_images")


def resumed_config(state: dict[str, Any], device: str | None = None, overrides: list[str] | None = None,
                   dataroot: str | None = None) -> RunConfig:
    """The config a checkpoint continues with: its own, with the device, the data's new place and
    the `overrides` of RESUME_SETTABLE keys; any other override is refused."""
    cfg = from_saved(state["config"])
    changes = {"train.device": device, "data.dataroot": dataroot}
    cfg = cfg.updated({k: v for k, v in changes.items() if v is not None})
    for item in overrides or []:
        key = item.split("=", 1)[0].strip()
        if "=" in item and key not in RESUME_SETTABLE:  # a malformed item: apply_overrides says so
            raise ConfigError(f"--resume continues a run with its saved config; --set {key} cannot "
                              f"change there (only {', '.join(RESUME_SETTABLE)})")
    return apply_overrides(cfg, overrides or [])
