"""Encoder/decoder architectures, one file each, registered by name.

- `mlp`: the original 784-400-20 MLP VAE's networks (a Bernoulli decoder by default).
- `conv`: two stride-2 convolutions down to a global latent vector.
- `conv-spatial`: a latent map H/stride x W/stride, optional (dilated) residual blocks at that resolution.
- `conv-fullres`: a full-resolution latent map, linear 1x1 plus 3x3 convolutions.

    architecture = create("conv-spatial", latent_dim=8)   # unset hyperparameters: the architecture's defaults
"""

import dataclasses

from tfvae.models.architectures.base import Architecture
from tfvae.models.architectures.conv import Conv
from tfvae.models.architectures.conv_fullres import ConvFullres
from tfvae.models.architectures.conv_spatial import ConvSpatial, grown_weights
from tfvae.models.architectures.mlp import MLP

ARCHITECTURES = {architecture.name: architecture for architecture in (MLP, Conv, ConvSpatial, ConvFullres)}
"""The encoder/decoder architectures of `VAE` and `Autoencoder`, by the name their `arch` takes.

Each is a frozen dataclass of hyperparameters (an `Architecture`) that builds the two
networks: `mlp`, `conv`, `conv-spatial` and `conv-fullres`.

Examples:
    >>> from tfvae.models import ARCHITECTURES
    >>> sorted(ARCHITECTURES)
    ['conv', 'conv-fullres', 'conv-spatial', 'mlp']
    >>> ARCHITECTURES["conv-spatial"]()
    ConvSpatial(width=32, latent_dim=4, latent_stride=2, residual_blocks=0, dilation_growth=1)
"""

# Every hyperparameter some architecture has: the models' and TrainConfig's architecture arguments.
HYPERPARAMETERS = tuple(dict.fromkeys(f.name for a in ARCHITECTURES.values() for f in dataclasses.fields(a)))


def create(arch, **hyperparameters):
    """Creates the architecture `arch` with the given hyperparameters (None: its default).

    A hyperparameter the architecture does not have is an error, not ignored.

    Args:
        arch: str, a name in `ARCHITECTURES`.
        **hyperparameters: the architecture's hyperparameters; None takes its default.

    Returns:
        The `Architecture`.

    Raises:
        ValueError: if `arch` is unknown, or a hyperparameter is invalid or not the architecture's.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"Expected arch to be one of {sorted(ARCHITECTURES)}. Received: arch={arch!r}.")
    architecture = ARCHITECTURES[arch]
    own = {field.name for field in dataclasses.fields(architecture)}
    given = {name: value for name, value in hyperparameters.items() if value is not None}
    foreign = sorted(set(given) - own)
    if foreign:
        raise ValueError(
            f"Expected only the hyperparameters of arch={arch!r} ({', '.join(sorted(own))}). "
            f"Received: {', '.join(f'{name}={given[name]!r}' for name in foreign)}."
        )
    return architecture(**given)


__all__ = [
    "ARCHITECTURES",
    "HYPERPARAMETERS",
    "MLP",
    "Architecture",
    "Conv",
    "ConvFullres",
    "ConvSpatial",
    "create",
    "grown_weights",
]
