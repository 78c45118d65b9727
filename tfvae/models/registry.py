"""The registry of tfvae's models: what each one is, takes and can do, declared once.

`TrainConfig`, the `tfvae train` / `tfvae tune` flags and their help, the tuner's search space
and the checks of a training config all read these declarations, so nothing outside this module
branches on a model's name. A model's hyperparameters and their defaults are read from its
constructor (and, for `ae` / `vae`, its architectures' dataclasses); what each hyperparameter
means is written once, in `HYPERPARAMETER_HELP`.

    spec = MODELS["vae"]
    spec.defaults("vae")          # {'arch': 'conv-spatial', 'width': 32, 'latent_dim': 4, ...}
    model = spec.build((28, 28, 1), {"latent_dim": 8}, Objective(beta=0.5), seed=0)
"""

import dataclasses
import inspect
from collections.abc import Callable

import numpy as np

from tfvae.models import architectures
from tfvae.models.autoencoder import Autoencoder
from tfvae.models.blind_spot import Noise2Void
from tfvae.models.dncnn import DnCNN
from tfvae.models.hierarchical import HierarchicalVAE
from tfvae.models.neighbor2neighbor import Neighbor2Neighbor
from tfvae.models.objective import Objective
from tfvae.models.pca import PCA, fit_pca
from tfvae.models.vae import VAE
from tfvae.models.variational import VariationalModel

TARGETS = ("clean", "noisy")

# One meaning per hyperparameter name, whichever model takes it.
HYPERPARAMETER_HELP = {
    "arch": "the encoder/decoder architecture: " + " | ".join(architectures.ARCHITECTURES),
    "width": "hidden units or channels of the first layer (mlp: units; convolutions: channels)",
    "latent_dim": "the latent size, or the channels of a latent map (hvae: per level; pca: the components)",
    "latent_stride": "the downsampling of the latent map: 1 | 2 | 4 | 8",
    "residual_blocks": "residual blocks at the latent resolution per side (hvae: per level and path)",
    "dilation_growth": "residual block b dilates its convolutions by dilation_growth**b: a wider view (1: none)",
    "levels": "stochastic levels, each at half the resolution of the one below",
    "conv_layers": "3x3 convolutions (conv-fullres: per side)",
    "gated": "each residual cell's output passes through a sigmoid gate (HDN's gated blocks)",
    "learned_prior": "the top level's prior has a learned mean and variance per channel (HDN's learned top prior)",
    "skip_connections": "every level's top-down state reaches the output directly (the ladder's generative skips)",
    "pixelcnn_layers": "gated layers of a PixelCNN decoder over the pixels, conditioned on the decoder (0: none)",
    "noise_level_input": "the encoder also sees a map of each image's noise std, estimated from the image (FFDNet's)",
}
"""What each hyperparameter name means, whichever model takes it: the help of its flag."""
HYPERPARAMETERS = tuple(HYPERPARAMETER_HELP)


def _hyperparameter_defaults(cls):
    """{hyperparameter: default} of the parameters `cls.__init__` itself declares."""
    parameters = inspect.signature(cls.__init__).parameters.items()
    return {
        name: parameter.default
        for name, parameter in parameters
        if name in HYPERPARAMETER_HELP and parameter.default is not inspect.Parameter.empty
    }


def _constructor_defaults(model_class):
    """{hyperparameter: default} of `model_class`'s constructor and its bases' (what **kwargs passes on)."""
    defaults = {}
    for cls in reversed(model_class.__mro__):
        if "__init__" in vars(cls):
            defaults.update(_hyperparameter_defaults(cls))
    return defaults


def _model_level_defaults(model_class):
    """{hyperparameter: default} a model built from an architecture takes beside it (e.g. `pixelcnn_layers`)."""
    return {name: default for name, default in _hyperparameter_defaults(model_class).items() if name != "arch"}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What one registered model is, takes and can do.

    Args:
        name: str, the name `tfvae train --model` takes.
        summary: str, one line: what the model is.
        model_class: type, the `keras.Model` subclass.
        targets: tuple of str, the targets it trains on: `"clean"` (noisy -> clean pairs)
            and/or `"noisy"` (noisy images alone). Defaults to `("clean",)`.
        search_extra: dict, the hyperparameters `tfvae tune --search-extra` varies beside
            latent size and width, with their choices; empty: the model is not tuned. Defaults
            to `{}`.
        closed_form: callable or None, `(train images, hyperparameters, (noisy, clean)
            validation) -> fitted model` for a model fitted in closed form instead of by `fit`.
            Defaults to `None`.
    """

    name: str
    summary: str
    model_class: type
    targets: tuple = ("clean",)
    search_extra: dict = dataclasses.field(default_factory=dict)
    closed_form: Callable | None = None

    @property
    def takes_arch(self) -> bool:
        """Whether the model is built from one of `ARCHITECTURES` (its `arch` hyperparameter)."""
        return getattr(self.model_class, "default_arch", None) is not None

    @property
    def takes_objective(self) -> bool:
        """Whether the model is a VAE, whose settings are an `Objective`."""
        return issubclass(self.model_class, VariationalModel)

    @property
    def tunable(self) -> bool:
        """Whether `tfvae tune` searches this model."""
        return bool(self.search_extra)

    @property
    def seeded(self) -> bool:
        """Whether the model draws random numbers (its constructor takes a `seed`)."""
        return "seed" in inspect.signature(self.model_class.__init__).parameters

    def defaults(self, arch: str | None = None) -> dict:
        """The model's hyperparameters and their defaults.

        Args:
            arch: str or None, the architecture, for a model that takes one. Defaults to
                `None`: the model's default architecture.

        Returns:
            A dict `{hyperparameter: default}`; a default of None is decided when the model is
                fitted (pca: the number of components best on the validation slice).

        Examples:
            >>> from tfvae.models.registry import MODELS
            >>> MODELS["dncnn"].defaults()
            {'conv_layers': 17, 'width': 64}
            >>> MODELS["vae"].defaults("mlp")
            {'arch': 'mlp', 'width': 400, 'latent_dim': 20, 'pixelcnn_layers': 0, 'noise_level_input': False}
        """
        if self.closed_form is not None:
            return {"latent_dim": None}
        if not self.takes_arch:
            return _constructor_defaults(self.model_class)
        arch = arch or self.model_class.default_arch
        fields = dataclasses.fields(architectures.create(arch))
        return {
            "arch": arch,
            **{field.name: field.default for field in fields},
            **_model_level_defaults(self.model_class),
        }

    def check(self, hyperparameters: dict) -> None:
        """Raises ValueError naming any hyperparameter that is not this model's, or is invalid.

        Args:
            hyperparameters: dict, hyperparameters by name (None: the default).

        Raises:
            ValueError: if a hyperparameter is not the model's (or not its architecture's), or
                out of range.

        Examples:
            >>> from tfvae.models.registry import MODELS
            >>> MODELS["dncnn"].check({"latent_dim": 8})
            Traceback (most recent call last):
            ...
            ValueError: Expected only the hyperparameters of model='dncnn' (conv_layers, width). Received: latent_dim=8.
        """
        given = {name: value for name, value in hyperparameters.items() if value is not None}
        own = self.defaults(given.get("arch")) if self.takes_arch else self.defaults()
        foreign = sorted(set(given) - set(own))
        if foreign:
            arch = f", arch={own['arch']!r}" if self.takes_arch else ""
            raise ValueError(
                f"Expected only the hyperparameters of model={self.name!r}{arch} ({', '.join(own)}). "
                f"Received: {', '.join(f'{name}={given[name]!r}' for name in foreign)}."
            )
        if self.takes_arch:  # an impossible architecture fails here, before any network is built
            model_level = _model_level_defaults(self.model_class)
            architecture_given = {
                name: value for name, value in given.items() if name != "arch" and name not in model_level
            }
            architectures.create(given.get("arch") or self.model_class.default_arch, **architecture_given)

    def build(
        self,
        image_shape: tuple,
        hyperparameters: dict,
        objective: Objective | None = None,
        seed: int = 0,
        network_dtype: str = "float32",
    ):
        """Builds the model with `hyperparameters` (None or absent: the defaults).

        Args:
            image_shape: tuple `(H, W, C)`, the training images' shape.
            hyperparameters: dict, hyperparameters by name.
            objective: `Objective` or None, a VAE's objective. Defaults to `None`: the
                default `Objective()`.
            seed: int, seeds a model that draws random numbers. Defaults to `0`.
            network_dtype: str, the dtype policy the networks compute in. Defaults to
                `"float32"`.

        Returns:
            The model, untrained.

        Raises:
            ValueError: if the model is fitted in closed form, a hyperparameter is invalid or
                not the model's, or an objective is given to a model without one.

        Examples:
            >>> from tfvae.models.registry import MODELS
            >>> model = MODELS["dncnn"].build((8, 8, 1), {"conv_layers": 3, "width": 4})
            >>> type(model).__name__, model.conv_layers
            ('DnCNN', 3)
        """
        if self.closed_form is not None:
            raise ValueError(f"Expected a model trained by fit. Received: model={self.name!r}, fitted in closed form.")
        self.check(hyperparameters)
        kwargs = {name: value for name, value in hyperparameters.items() if value is not None}
        if objective is not None and not self.takes_objective:
            raise ValueError(f"Expected no objective for model={self.name!r}. Received: {objective!r}.")
        if self.takes_objective:
            kwargs["objective"] = objective or Objective()
        if self.seeded:
            kwargs["seed"] = seed
        return self.model_class(image_shape, network_dtype=network_dtype, **kwargs)


def _fit_pca(train_images: np.ndarray, hyperparameters: dict, validation: tuple) -> PCA:
    return fit_pca(train_images, hyperparameters.get("latent_dim"), validation=validation)


ARCHITECTURE_SEARCH = {"arch": ("conv-spatial", "conv-fullres")}  # the extra search of ae and vae
MODELS = {
    spec.name: spec
    for spec in (
        ModelSpec("pca", "principal component analysis, fitted in closed form", PCA, closed_form=_fit_pca),
        ModelSpec(
            "ae",
            "an autoencoder, a denoising one with --noise",
            Autoencoder,
            search_extra=ARCHITECTURE_SEARCH,
        ),
        ModelSpec(
            "vae",
            "a variational autoencoder",
            VAE,
            targets=TARGETS,
            search_extra=ARCHITECTURE_SEARCH,
        ),
        ModelSpec(
            "hvae",
            "a hierarchical VAE, a ladder of latent maps",
            HierarchicalVAE,
            targets=TARGETS,
            search_extra={"levels": (2, 3)},
        ),
        ModelSpec("dncnn", "DnCNN, the supervised baseline", DnCNN),
        ModelSpec("n2v", "Noise2Void, a blind-spot network for noisy images alone", Noise2Void, targets=("noisy",)),
        ModelSpec(
            "n2n",
            "Neighbor2Neighbor, a network fitted to neighbouring pixels of noisy images alone",
            Neighbor2Neighbor,
            targets=("noisy",),
        ),
    )
}
"""The registered models by name: `pca`, `ae`, `vae`, `hvae`, `dncnn`, `n2v` and `n2n`.

Examples:
    >>> from tfvae.models.registry import MODELS
    >>> list(MODELS)
    ['pca', 'ae', 'vae', 'hvae', 'dncnn', 'n2v', 'n2n']
    >>> MODELS["n2v"].targets, MODELS["hvae"].takes_objective, MODELS["dncnn"].tunable
    (('noisy',), True, False)
"""


def default_help(name: str) -> str:
    """Which default each registered model gives hyperparameter `name`, for a flag's help.

    Args:
        name: str, a name in `HYPERPARAMETER_HELP`.

    Returns:
        A str such as `"vae: mlp 400, conv 32, ...; hvae 64; dncnn 64"`.

    Examples:
        >>> from tfvae.models.registry import default_help
        >>> default_help("levels")
        'hvae 3'
    """
    parts = []
    for spec in MODELS.values():
        if spec.takes_arch:
            by_arch = [
                f"{arch} {spec.defaults(arch)[name]}"
                for arch in architectures.ARCHITECTURES
                if name in spec.defaults(arch) and name != "arch"
            ]
            if name == "arch":
                parts.append(f"{spec.name} {spec.model_class.default_arch}")
            elif by_arch:
                parts.append(f"{spec.name}: {', '.join(by_arch)}")
        elif name in spec.defaults():
            default = spec.defaults()[name]
            parts.append(f"{spec.name} {'best on validation' if default is None else default}")
    return "; ".join(parts)
