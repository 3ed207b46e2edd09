"""The reference networks: generators that declare their channel layout, and the discriminator."""

from coronet.models import mobile_resnet, patchgan, resnet, unet  # noqa: F401  (registers them)
from coronet.models.base import (
    Generator,
    GeneratorSpec,
    check_size,
    get_generator,
    list_generators,
    register_generator,
    size_rule,
)
from coronet.models.io import (
    load_generator,
    load_reference_state_dict,
    non_finite_entry,
    read_generator_meta,
    save_generator,
)
from coronet.models.layout import (
    RGB_IN,
    RGB_OUT,
    ChannelLayout,
    ChannelOpSpec,
    ConvSpec,
    LatentGroup,
    LayoutBuilder,
)
from coronet.models.patchgan import NLayerDiscriminator, get_discriminator

__all__ = [
    "RGB_IN",
    "RGB_OUT",
    "ChannelLayout",
    "ChannelOpSpec",
    "ConvSpec",
    "Generator",
    "GeneratorSpec",
    "LatentGroup",
    "LayoutBuilder",
    "NLayerDiscriminator",
    "check_size",
    "get_discriminator",
    "get_generator",
    "load_generator",
    "non_finite_entry",
    "read_generator_meta",
    "load_reference_state_dict",
    "save_generator",
    "size_rule",
    "list_generators",
    "register_generator",
]
