"""`coronet data`: download standard datasets, or write a built-in one to disk."""

from __future__ import annotations

import argparse
from pathlib import Path

from coronet.data import BUILTIN, write_builtin
from coronet.data.download import DATASETS, download


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="download a standard dataset or write a built-in one",
                       description="Get datasets in the layouts coronet reads: download one of the "
                                   "standard sets (horse2zebra, summer2winter_yosemite, edges2shoes-r, "
                                   "...; `coronet data list` names them all), or write a built-in set "
                                   "to disk.")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = dsub.add_parser("download", help="download and extract a standard dataset")
    d.add_argument("name", choices=sorted(DATASETS))
    d.add_argument("--root", type=Path, default=Path("datasets"), help="folder the dataset goes into")
    d.add_argument("--sha256", help="expected SHA-256 of the archive")
    b = dsub.add_parser("builtin", help="write a built-in dataset in the standard layout")
    b.add_argument("name", choices=sorted(BUILTIN))
    b.add_argument("--out", type=Path, default=Path("datasets"), help="folder the dataset goes into")
    b.add_argument("--size", type=int, default=256, help="image side in pixels")
    dsub.add_parser("list", help="list the datasets coronet can download")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        for name, remote in sorted(DATASETS.items()):
            print(f"{name:24s} {remote.layout:9s} {remote.url}")
        return 0
    if args.data_command == "builtin":
        print(f"wrote {write_builtin(args.name, args.out, args.size)}")
        return 0
    print(f"{args.name} is in {download(args.name, args.root, args.sha256)}")
    return 0
