"""The history of generated images a CycleGAN discriminator is trained on (Shrivastava et al.)."""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """Return the new fakes, or with probability 1/2 per image a stored one that it replaces.

    The pool draws from its own seeded generator, so its state (images + RNG) can be
    checkpointed and a resumed run makes the same choices.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        if self.images and self.images[0].device != images.device:
            # a resumed pool holds the checkpoint's CPU copies: keep the whole pool with the fakes
            self.images = [stored.to(images.device) for stored in self.images]
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(1, generator=self.generator).item() > 0.5:
                i = int(torch.randint(self.size, (1,), generator=self.generator))
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        stacked = torch.cat(self.images, 0).cpu() if self.images else torch.empty(0)
        return {"images": stacked, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        images = state["images"]
        self.images = [images[i:i + 1].clone() for i in range(images.shape[0])] if images.numel() else []
        self.generator.set_state(state["rng"])
