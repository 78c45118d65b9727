"""`TrainConfig`: everything that defines a training run. The `tfvae train` flags map one-to-one
onto its fields; recipes (`tfvae.training.recipes`) are instances of it."""

import dataclasses
import math

import keras

from tfvae.data import sources
from tfvae.data.noise import parse_noise
from tfvae.models import VAE, Autoencoder, DnCNN, HierarchicalVAE, Noise2Void, architectures
from tfvae.models.noise_models import parse_noise_model
from tfvae.models.precision import DTYPE_POLICIES
from tfvae.training.distribute import STRATEGIES

# model -> its class; pca is fitted in closed form (`tfvae.models.fit_pca`), not by `fit`
MODELS = {
    "pca": None,
    "ae": Autoencoder,
    "vae": VAE,
    "hvae": HierarchicalVAE,
    "dncnn": DnCNN,
    "n2v": Noise2Void,
}
VARIATIONAL_MODELS = ("vae", "hvae")  # take the VAE_SETTINGS
NOISY_TARGET_MODELS = (*VARIATIONAL_MODELS, "n2v")  # the models that learn from noisy images alone
HIERARCHICAL_HYPERPARAMETERS = ("width", "latent_dim", "residual_blocks", "levels")
VAE_SETTINGS = ("likelihood", "sigma_x", "beta", "kl_warmup_steps", "free_bits", "iw_samples", "noise_model")
TARGETS = ("clean", "noisy")
LR_SCHEDULES = ("constant", "cosine")
XLA_CHOICES = {"auto": "auto", "on": True, "off": False}  # -> compile(jit_compile=...); auto: the model decides


def _field(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run: the `tfvae train` flags map one-to-one onto its fields.

    `tfvae.training.train(config)` trains it into a run folder. Model hyperparameters left at
    None take the model's (and its architecture's) defaults. The fields are checked on
    creation, so an impossible combination fails before any run folder exists.

    Args:
        model: str, `"pca"`, `"ae"`, `"vae"`, `"hvae"` (a ladder VAE), `"dncnn"` (the
            supervised baseline) or `"n2v"` (Noise2Void, with `targets="noisy"`). Defaults to
            `"vae"`.
        arch: str or None, `ae` and `vae`: `"mlp"`, `"conv"`, `"conv-spatial"` or
            `"conv-fullres"`. Defaults to `None`: `conv-spatial` for vae, `conv` for ae.
        dataset: str, what `tfvae.data.load` reads: `"mnist"`, `"fashion_mnist"`, `"cifar10"`,
            a path, or several joined with `+`. Defaults to `"mnist"`.
        noise: str, the training noise spec (`tfvae.data.parse_noise`); `"none"` for a plain
            autoencoder or images that are noisy already. Defaults to `"gaussian:0-0.5"`.
        targets: str, `"clean"`, or `"noisy"`: the dataset's images are noisy and the only
            targets (with `noise="none"`; a vae or hvae with a `noise_model`, or n2v). Defaults
            to `"clean"`.
        noise_model: str or None, vae and hvae with `targets="noisy"`: the images' noise,
            `"gaussian:SIGMA"` or `"gaussian:auto"` (estimated per image). Defaults to `None`.
        binarize: bool, train on fresh Bernoulli samples of the images (binarized MNIST).
            Defaults to `False`.
        grey_fraction: float in [0, 1], the fraction of training images turned grey, with the
            same noise in every channel (RGB models for grey photos). Defaults to `0.0`.
        width: int or None, hidden units or channels. Defaults to `None`: the architecture's
            (dncnn and hvae: 64).
        latent_dim: int or None, the latent size or channels (hvae: per level); pca: the number
            of components. Defaults to `None`: the architecture's (hvae: 8; pca: the best on
            the validation slice).
        latent_stride: int or None, conv-spatial: the downsampling of the latent map, 1, 2, 4
            or 8. Defaults to `None` (2).
        residual_blocks: int or None, conv-spatial: residual blocks at the latent resolution
            per side; hvae: per level and path. Defaults to `None` (0; hvae 1).
        levels: int or None, hvae: stochastic levels, >= 2. Defaults to `None` (3).
        conv_layers: int or None, conv-fullres: 3x3 convolutions per side; dncnn and n2v: the
            layers. Defaults to `None` (4; dncnn 17).
        likelihood: str or None, vae and hvae: `"bernoulli"`, `"gaussian"`,
            `"gaussian-learned"` or `"discretized-gaussian"`. Defaults to `None` (bernoulli for
            mlp, else gaussian).
        sigma_x: float or None, the Gaussian decoder's standard deviation. Defaults to `None`
            (0.05).
        beta: float or None, the weight of the KL term. Defaults to `None` (1).
        kl_warmup_steps: int or None, steps of linear KL warm-up. Defaults to `None` (0).
        free_bits: float or None, nats per latent dimension not penalised. Defaults to `None` (0).
        iw_samples: int or None, posterior draws per image in the loss: 1 the ELBO, k > 1 the
            importance-weighted bound. Defaults to `None` (1).
        learning_rate: float, Adam's learning rate. Defaults to `1e-3`.
        lr_schedule: str, `"constant"` or `"cosine"` (decays to 0 over `epochs` times the
            steps per epoch). Defaults to `"constant"`.
        ema: float in [0, 1), the momentum of an exponential moving average of the weights,
            used at the end; 0 turns it off. Defaults to `0.0`.
        dtype_policy: str, `"auto"`, `"float32"` or `"mixed_bfloat16"` (layers compute in
            bfloat16; weights, losses and outputs stay float32); auto is bfloat16 where the
            hardware computes it natively. Defaults to `"auto"`.
        batch_size: int, images per step (the global batch under a `strategy`). Defaults to `128`.
        epochs: int, epochs of `steps_per_epoch` steps. Defaults to `10`.
        steps_per_epoch: int or None, steps per epoch. Defaults to `None`: one pass over the
            training images.
        time_budget: float or None, wall-clock seconds of training, after which it stops
            cleanly. Defaults to `None`.
        steps_per_execution: int, train steps per tf.function call, at most (a divisor of the
            epoch's steps; 1 under a `strategy`). Defaults to `8`.
        xla: str, `"auto"`, `"on"` or `"off"`: XLA compilation (auto: the model's choice).
            Defaults to `"auto"`.
        train_size: int or None, train on the first N training images only. Defaults to `None`.
        validation_size: int, the validation slice held out of the train images. Defaults to
            `5000`.
        data_dir: str or None, a folder searched first for the dataset. Defaults to `None`.
        seed: int, fixes the data order, the noise and the initialisation. Defaults to `0`.
        strategy: str, `"default"`, `"mirrored"`, `"multiworker"` (the cluster in TF_CONFIG) or
            `"tpu"`. Defaults to `"default"`.
        devices: str or None, mirrored: comma-separated device names. Defaults to `None` (all
            GPUs).
        deterministic: bool, TensorFlow op determinism: bit-identical reruns on GPUs too (CPU
            runs are already). Defaults to `False`.
        init_from: str or None, start from the weights of this finished run or `.keras` file
            (the same architecture; loss settings may differ; conv-spatial may add residual
            blocks, which start as the identity; a fresh optimizer). Defaults to `None`.
        out: str, the run folder. Defaults to `"runs/default"`.

    Raises:
        ValueError: if a field is not one of its choices or out of range, a hyperparameter is
            not the model's, or fields conflict (e.g. an `arch` for pca, noisy targets with
            added noise, a noise model without noisy targets).

    Examples:
        >>> from tfvae.training import TrainConfig
        >>> config = TrainConfig(model="vae", arch="conv-spatial", latent_dim=8, out="runs/mnist")
        >>> config.model_kwargs()  # what the VAE is built with: its defaults fill the rest
        {'arch': 'conv-spatial', 'latent_dim': 8, 'seed': 0}
        >>> TrainConfig(model="pca", arch="conv")
        Traceback (most recent call last):
        ...
        ValueError: Expected no arch for model='pca' (it has one network). Received: arch='conv'.
    """

    model: str = _field(
        "vae",
        "pca | ae | vae | hvae (hierarchical: a ladder VAE) | dncnn (the supervised baseline) "
        "| n2v (Noise2Void, blind-spot: --targets noisy)",
    )
    arch: str | None = _field(None, "mlp | conv | conv-spatial | conv-fullres (default: vae conv-spatial, ae conv)")
    dataset: str = _field("mnist", "mnist | fashion_mnist | cifar10 | PATH | a+b")
    noise: str = _field("gaussian:0-0.5", "training noise spec ('none': plain autoencoder, or images already noisy)")
    targets: str = _field(
        "clean",
        "clean | noisy: the dataset's images are noisy and the only targets (no clean image; --noise none; "
        "vae with a --noise-model, or n2v; e.g. on a `tfvae data noisy-copy`)",
    )
    noise_model: str | None = _field(
        None, "vae, --targets noisy: the images' noise, gaussian:SIGMA | gaussian:auto (estimated per image)"
    )
    binarize: bool = _field(False, "train on fresh Bernoulli samples of the images (binarized MNIST)")
    grey_fraction: float = _field(
        0.0, "fraction of training images turned grey, the same noise in every channel (RGB models for grey photos)"
    )
    width: int | None = _field(None, "hidden units / channels (default: the architecture's; dncnn, hvae 64)")
    latent_dim: int | None = _field(
        None,
        "latent size / channels (default: the architecture's; hvae: per level, 8); PCA: components (best on "
        "validation)",
    )
    latent_stride: int | None = _field(None, "conv-spatial: downsampling of the latent map, 1 | 2 | 4 | 8 (default 2)")
    residual_blocks: int | None = _field(
        None,
        "conv-spatial: residual blocks at the latent resolution per side (default 0); hvae: per level and path (1)",
    )
    levels: int | None = _field(None, "hvae: stochastic levels >= 2, each at half the resolution of the one below (3)")
    conv_layers: int | None = _field(
        None, "conv-fullres: 3x3 convolutions per side (default 4); dncnn: layers (default 17)"
    )
    likelihood: str | None = _field(
        None,
        "bernoulli | gaussian | gaussian-learned | discretized-gaussian (8-bit bins: bits/dim) "
        "(default: mlp bernoulli, else gaussian)",
    )
    sigma_x: float | None = _field(None, "Gaussian decoder std (default 0.05)")
    beta: float | None = _field(None, "KL weight (default 1)")
    kl_warmup_steps: int | None = _field(None, "steps of linear KL warm-up (default 0)")
    free_bits: float | None = _field(None, "nats per latent dim not penalised (default 0)")
    iw_samples: int | None = _field(
        None, "posterior draws per image in the loss: 1 = ELBO, k > 1 = importance-weighted bound (IWAE)"
    )
    learning_rate: float = _field(1e-3, "Adam learning rate")
    lr_schedule: str = _field("constant", "constant | cosine (decays to 0 over epochs x steps per epoch)")
    ema: float = _field(0.0, "momentum of an exponential moving average of the weights, used at the end (0: off)")
    dtype_policy: str = _field(
        "auto",
        "auto | float32 | mixed_bfloat16 (layers compute in bfloat16, weights, losses and outputs stay float32); "
        "auto: bfloat16 where the hardware computes it natively (AVX512-BF16 / AMX CPUs, GPUs from compute 8.0)",
    )
    batch_size: int = _field(128, "images per step (the global batch under a --strategy)")
    epochs: int = _field(10, "epochs of --steps-per-epoch steps (unset: an epoch is one pass over the training images)")
    steps_per_epoch: int | None = _field(None, "cap steps per epoch")
    time_budget: float | None = _field(None, "wall-clock seconds of training")
    steps_per_execution: int = _field(
        8,
        "train steps per tf.function call, at most (a divisor of the epoch's steps; 1 under a --strategy: "
        "Keras 3.15's fit fails with more)",
    )
    xla: str = _field(
        "auto", "auto | on | off: XLA jit_compile (auto: the model's choice, on for mlp, off for convolutions)"
    )
    train_size: int | None = _field(None, "use only the first N training images")
    validation_size: int = _field(sources.DEFAULT_VALIDATION_SIZE, "validation slice of train")
    data_dir: str | None = _field(None, "folder searched first for the dataset")
    seed: int = _field(0, "fixes data order, noise and initialisation")
    strategy: str = _field("default", "default | mirrored | multiworker (TF_CONFIG) | tpu; --batch-size is global")
    devices: str | None = _field(None, "mirrored: comma-separated devices (default: all GPUs)")
    deterministic: bool = _field(False, "TF op determinism: bit-identical reruns on GPUs too (CPU runs already are)")
    init_from: str | None = _field(
        None,
        "start from the weights of this finished run or .keras file (same architecture; loss settings may differ; "
        "conv-spatial may add --residual-blocks, which start as the identity; fresh optimizer)",
    )
    out: str = _field("runs/default", "run folder")

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Expected model in {sorted(MODELS)}. Received: model={self.model!r}.")
        parse_noise(self.noise)
        self._check_targets()
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Expected strategy in {sorted(STRATEGIES)}. Received: strategy={self.strategy!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"Expected lr_schedule in {LR_SCHEDULES}. Received: lr_schedule={self.lr_schedule!r}.")
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(
                f"Expected dtype_policy in {DTYPE_POLICIES}. Received: dtype_policy={self.dtype_policy!r}."
            )
        if self.model == "pca" and self.dtype_policy == "mixed_bfloat16":
            raise ValueError(
                "Expected dtype_policy auto or float32 for pca (fitted in closed form). Received: mixed_bfloat16."
            )
        if self.arch is not None and self.model in ("pca", "hvae", "dncnn", "n2v"):
            raise ValueError(
                f"Expected no arch for model={self.model!r} (it has one network). Received: arch={self.arch!r}."
            )
        if self.model in ("ae", "vae"):  # an impossible architecture fails here, before a run folder exists
            hyperparameters = {name: getattr(self, name) for name in architectures.HYPERPARAMETERS}
            architectures.create(self.arch or MODELS[self.model].default_arch, **hyperparameters)
        own = HIERARCHICAL_HYPERPARAMETERS if self.model == "hvae" else architectures.HYPERPARAMETERS
        given = [name for name in ("levels", *architectures.HYPERPARAMETERS) if getattr(self, name) is not None]
        foreign = [name for name in given if name not in own]
        if foreign and self.model in ("ae", *VARIATIONAL_MODELS):
            raise ValueError(
                f"Expected only the hyperparameters of model={self.model!r}. "
                f"Received: {', '.join(f'{name}={getattr(self, name)!r}' for name in foreign)}."
            )
        if not 0 <= self.grey_fraction <= 1:
            raise ValueError(f"Expected 0 <= grey_fraction <= 1. Received: grey_fraction={self.grey_fraction!r}.")
        if not 0 <= self.ema < 1:
            raise ValueError(f"Expected 0 <= ema < 1 (0: off). Received: ema={self.ema!r}.")
        if self.xla not in XLA_CHOICES:
            raise ValueError(f"Expected xla in {sorted(XLA_CHOICES)}. Received: xla={self.xla!r}.")
        for name in ("learning_rate", "batch_size", "epochs", "steps_per_execution", "validation_size"):
            _check_positive(name, getattr(self, name))
        for name in ("time_budget", "steps_per_epoch", "train_size"):
            if getattr(self, name) is not None:
                _check_positive(name, getattr(self, name))

    def _check_targets(self):
        """Noisy targets: a model that learns from them (a VAE with a noise model, or n2v) and no added
        noise; a noise model only there; n2v only there."""
        if self.targets not in TARGETS:
            raise ValueError(f"Expected targets in {TARGETS}. Received: targets={self.targets!r}.")
        if self.noise_model is not None and (self.targets == "clean" or self.model not in VARIATIONAL_MODELS):
            raise ValueError(
                "Expected a noise model only for a vae with --targets noisy (clean targets have their own likelihood). "
                f"Received: model={self.model!r}, targets={self.targets!r}, noise_model={self.noise_model!r}."
            )
        if self.targets == "clean":
            if self.model == "n2v":
                raise ValueError(
                    "Expected --targets noisy for n2v (it learns from noisy images alone). Received: clean."
                )
            return
        if self.model not in NOISY_TARGET_MODELS or (self.model in VARIATIONAL_MODELS and self.noise_model is None):
            raise ValueError(
                "Expected --model vae with a --noise-model (e.g. gaussian:auto), or --model n2v, to learn from noisy "
                f"images alone. Received: model={self.model!r}, noise_model={self.noise_model!r}."
            )
        if parse_noise(self.noise).spec != "none":
            raise ValueError(
                "Expected --noise none with --targets noisy: the images are noisy already, and noise added "
                f"afresh every epoch would be a hidden form of supervision. Received: noise={self.noise!r}."
            )
        if self.noise_model is not None:
            parse_noise_model(self.noise_model)

    def device_list(self) -> list | None:
        """The `devices` field as a list of device names.

        Returns:
            A list of str, or None when `devices` is None (every GPU).

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(strategy="mirrored", devices="/gpu:0, /gpu:1").device_list()
            ['/gpu:0', '/gpu:1']
        """
        return [name.strip() for name in self.devices.split(",")] if self.devices else None

    def epoch_steps(self, train_count: int) -> int:
        """The steps of one `fit` epoch.

        Args:
            train_count: int, the number of training images.

        Returns:
            `steps_per_epoch`, or when it is None one pass over `train_count` images (partial
                batches dropped).

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(batch_size=32).epoch_steps(1000)
            31
            >>> TrainConfig(batch_size=32, steps_per_epoch=5).epoch_steps(1000)
            5
        """
        return self.steps_per_epoch or train_count // self.batch_size

    def optimizer(self, steps_per_epoch: int) -> keras.optimizers.Optimizer:
        """Makes the run's optimizer: Adam with the configured learning-rate schedule and averaging.

        Args:
            steps_per_epoch: int, steps per epoch (a cosine schedule decays over all the steps).

        Returns:
            A `keras.optimizers.Adam`, keeping an exponential moving average of the weights when
                `ema` > 0.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> optimizer = TrainConfig(lr_schedule="cosine", ema=0.99).optimizer(steps_per_epoch=100)
            >>> type(optimizer).__name__, optimizer.use_ema
            ('Adam', True)
        """
        rate = self.learning_rate
        if self.lr_schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=self.epochs * steps_per_epoch)
        return keras.optimizers.Adam(rate, use_ema=self.ema > 0, ema_momentum=self.ema or 0.99)

    def model_kwargs(self) -> dict:
        """The arguments of the model's constructor that the config sets.

        Returns:
            A dict of the hyperparameters and settings given explicitly (not None), plus the
                seed for the models that draw random numbers; the model's defaults fill the rest.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(model="dncnn", conv_layers=10, width=32).model_kwargs()
            {'width': 32, 'conv_layers': 10}
        """
        if self.model in ("dncnn", "n2v"):
            names = ["width", "conv_layers"]
        elif self.model == "hvae":
            names = list(HIERARCHICAL_HYPERPARAMETERS)
        else:
            names = ["arch", *architectures.HYPERPARAMETERS]
        names += list(VAE_SETTINGS) if self.model in VARIATIONAL_MODELS else []
        kwargs = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        return {**kwargs, "seed": self.seed} if self.model in (*VARIATIONAL_MODELS, "n2v") else kwargs


def _check_positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}.")
