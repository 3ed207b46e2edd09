"""coronet: compress image-to-image GANs to a budget you choose (CoroNetGAN).

    G = coronet.get_generator("resnet_9blocks", ngf=64)
    hyper = coronet.hypernetize(G)                       # weights come from hypernetworks
    cost = hyper.cost_model((256, 256))
    budget = coronet.resolve_budget(coronet.BudgetTarget("macs", ratio=0.25), cost, min_channels=4)
    controller = coronet.BudgetController(hyper.latents, cost, budget, search_steps=N, lr=lr)
    ...  # after each generator optimizer step: controller.step(lr); stop when it has landed
    compact = coronet.materialize(hyper)                 # plain Conv2d/ConvTranspose2d
    coronet.save_generator(compact, "runs/G_A")          # .safetensors + .json
"""

from importlib.metadata import PackageNotFoundError, version

from coronet.errors import BudgetError, CheckpointError, ConfigError, CoronetError, DataError
from coronet.eval import count_macs, count_params
from coronet.models import (
    get_discriminator,
    get_generator,
    list_generators,
    load_generator,
    load_reference_state_dict,
    register_generator,
    save_generator,
)
from coronet.pruning import (
    BudgetController,
    BudgetTarget,
    ControllerConfig,
    HyperGenerator,
    hypernetize,
    magnitude_prune,
    materialize,
    resolve_budget,
    uniform_widths,
)

try:
    __version__ = version("coronet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "BudgetController",
    "BudgetError",
    "BudgetTarget",
    "CheckpointError",
    "ConfigError",
    "ControllerConfig",
    "CoronetError",
    "DataError",
    "HyperGenerator",
    "count_macs",
    "count_params",
    "get_discriminator",
    "get_generator",
    "hypernetize",
    "list_generators",
    "magnitude_prune",
    "load_generator",
    "load_reference_state_dict",
    "materialize",
    "register_generator",
    "resolve_budget",
    "save_generator",
    "uniform_widths",
]
