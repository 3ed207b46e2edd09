"""GAN training around the pruning core: losses, objectives, the loop (search -> export -> fine-tune),
checkpoints, and the extension points and summary the loop offers to code outside it."""

from coronet.gan.hooks import Callback
from coronet.gan.summary import GeneratorSummary, Handover, RunSummary
from coronet.gan.trainer import Trainer

__all__ = ["Callback", "GeneratorSummary", "Handover", "RunSummary", "Trainer"]
