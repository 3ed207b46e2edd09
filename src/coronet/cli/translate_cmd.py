"""`coronet translate`: run an exported generator on a folder of images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from coronet.data import TransformConfig, list_images, load_rgb, to_uint8
from coronet.data import transforms as T
from coronet.errors import ConfigError
from coronet.models import load_generator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="run an exported generator on a folder of images",
                       description="Translate every image of INPUT_DIR with an exported generator "
                                   "(a .safetensors/.json file, or a run folder: its G_A) and write "
                                   "PNGs of the same names to OUTPUT_DIR.")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("input_dir", type=Path)
    p.add_argument("output_dir", type=Path)
    p.add_argument("--generator", default="G_A", help="in a run folder: G_A or G_B")
    p.add_argument("--size", type=int, help="resize inputs to SIZE x SIZE (default: the training size)")
    p.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    path = args.checkpoint
    if path.is_dir():
        path = path / f"{args.generator}.json"
    generator = load_generator(path).to(args.device).eval()
    meta = json.loads(path.with_suffix(".json").read_text())
    size = args.size or meta.get("input_size") or 256
    if size < 1:
        raise ConfigError(f"--size must be positive (got {size})")
    files = list_images(args.input_dir, "input image")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    cfg = TransformConfig(size, size, "resize", False)
    with torch.no_grad():
        for file in tqdm(files, desc="translate", unit="image", mininterval=2.0):
            x = T.apply(load_rgb(file), cfg, T.Draw(0, 0, False)).unsqueeze(0).to(args.device)
            Image.fromarray(to_uint8(generator(x)[0])).save(args.output_dir / f"{file.stem}.png")
    print(f"wrote {len(files)} images to {args.output_dir}")
    return 0
