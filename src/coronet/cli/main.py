"""Entry point of the `coronet` command: subcommands, and one clear line for every user error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from coronet.cli import (
    bench_cmd,
    compress_cmd,
    data_cmd,
    eval_cmd,
    export_cmd,
    profile_cmd,
    translate_cmd,
)
from coronet.cli.arguments import CommandParser
from coronet.errors import CoronetError, describe_os_error
from coronet.gan.stopping import terminate_as_interrupt

SUBCOMMANDS = {"compress": compress_cmd, "data": data_cmd, "eval": eval_cmd, "export": export_cmd,
               "bench": bench_cmd, "profile": profile_cmd, "translate": translate_cmd}


COMMANDS = {**SUBCOMMANDS, "train": compress_cmd}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coronet",
        description="Compress image-to-image GANs to a budget you choose (CoroNetGAN).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for module in dict.fromkeys(SUBCOMMANDS.values()):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    terminate_as_interrupt()
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except CoronetError as exc:
        print(f"coronet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # read-only folder, full disk, ...: every write is atomic, nothing is lost
        print(f"coronet {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM (terminate_as_interrupt)
        print(f"coronet {args.command}: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
