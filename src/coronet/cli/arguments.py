"""Argument helpers shared by the commands: help that shows every default, and list options that do
not swallow the positional argument written after them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from coronet.errors import ConfigError


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` with each option's default, except where there is none to show (unset, off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in (action.help or ""):
            return action.help or ""
        if isinstance(action.default, list) and not action.default:
            return action.help or ""
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """Every subcommand's parser: its help shows the defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def reclaim_positional(values: list[str], positional: Path | None, choices: Sequence[str], option: str,
                       name: str) -> tuple[list[str], Path]:
    """`coronet export --dtype fp32 int8 RUN_DIR`: argparse gives RUN_DIR to --dtype. The values
    after the last valid choice are the positional argument; anything else unknown is one line."""
    values = list(values)
    if positional is None and values and values[-1] not in choices:
        positional = Path(values.pop())
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ConfigError(f"{option} takes {', '.join(choices)} (got {', '.join(unknown)})")
    if positional is None:
        raise ConfigError(f"give {name} (a run folder or an exported generator .json)")
    if not values:
        raise ConfigError(f"{option} needs at least one of {', '.join(choices)}")
    return values, positional
