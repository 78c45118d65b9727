"""`TrainConfig`: everything that defines a training run, as data.

The `tfvae train` flags map one-to-one onto its fields; its JSON form (the run folder's
config.json, `tfvae train --config FILE.json`) is nested by role: `data`, `model`, `objective`,
`optimizer` and `run`. What a model takes and can do is read from the registry
(`tfvae.models.registry`), so this module names no model.
"""

import dataclasses
import math

import keras

from tfvae.data import sources
from tfvae.data.noise import parse_noise
from tfvae.models.noise_models import parse_noise_model
from tfvae.models.objective import INFERENCE_SETTINGS, Objective
from tfvae.models.precision import DTYPE_POLICIES
from tfvae.models.registry import HYPERPARAMETER_HELP, HYPERPARAMETERS, MODELS, TARGETS, default_help
from tfvae.training.distribute import STRATEGIES

SECTIONS = ("data", "model", "objective", "optimizer", "run")
LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamax": keras.optimizers.Adamax}
XLA_CHOICES = {"auto": "auto", "on": True, "off": False}  # -> compile(jit_compile=...); auto: the model decides
OBJECTIVE_SETTINGS = tuple(
    field.name for field in dataclasses.fields(Objective) if field.name not in INFERENCE_SETTINGS
)


def _field(section, default, help_text):
    return dataclasses.field(default=default, metadata={"section": section, "help": help_text})


def _hyperparameter(name):
    """A model hyperparameter: None takes the model's default; its help is the registry's."""
    return _field("model", None, f"{HYPERPARAMETER_HELP[name]} (default: {default_help(name)})")


def _setting(name):
    """An objective setting: None takes the `Objective` default; its help is the Objective's."""
    field = next(f for f in dataclasses.fields(Objective) if f.name == name)
    default = "" if field.default is None else f" (default: {field.default})"
    return _field("objective", None, f"vae, hvae: {field.metadata['help']}{default}")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run: the `tfvae train` flags map one-to-one onto its fields.

    `tfvae.training.train(config)` trains it into a run folder. The fields are checked on
    creation against the model's declaration in `tfvae.models.registry.MODELS`, so an
    impossible combination fails before any run folder exists. `to_dict` / `from_dict` give its
    JSON form, nested by role (`data`, `model`, `objective`, `optimizer`, `run`).

    Args:
        model: str, a name in `tfvae.models.registry.MODELS`: `"pca"`, `"ae"`, `"vae"`,
            `"hvae"` (a ladder VAE), `"dncnn"` (the supervised baseline), `"n2v"`
            (Noise2Void) or `"n2n"` (Neighbor2Neighbor; both with `targets="noisy"`). Defaults to `"vae"`.
        arch: str or None, a model hyperparameter (each is described in
            `tfvae.models.registry.HYPERPARAMETER_HELP`; one the model does not take is an
            error). Defaults to `None`: the model's default, as are the next nine.
        width: int or None, a model hyperparameter. Defaults to `None`.
        latent_dim: int or None, a model hyperparameter. Defaults to `None`.
        latent_stride: int or None, a model hyperparameter. Defaults to `None`.
        residual_blocks: int or None, a model hyperparameter. Defaults to `None`.
        dilation_growth: int or None, a model hyperparameter. Defaults to `None`.
        levels: int or None, a model hyperparameter. Defaults to `None`.
        conv_layers: int or None, a model hyperparameter. Defaults to `None`.
        gated: bool or None, a model hyperparameter. Defaults to `None`.
        learned_prior: bool or None, a model hyperparameter. Defaults to `None`.
        skip_connections: bool or None, a model hyperparameter. Defaults to `None`.
        pixelcnn_layers: int or None, a model hyperparameter. Defaults to `None`.
        noise_level_input: bool or None, a model hyperparameter. Defaults to `None`.
        dataset: str, what `tfvae.data.load` reads: `"mnist"`, `"fashion_mnist"`, `"cifar10"`,
            a path, or several joined with `+`. Defaults to `"mnist"`.
        noise: str, the training noise spec (`tfvae.data.parse_noise`); `"none"` for a plain
            autoencoder or images that are noisy already. Defaults to `"gaussian:0-0.5"`.
        targets: str, `"clean"`, or `"noisy"`: the dataset's images are noisy and the only
            targets (with `noise="none"`; a VAE with a `noise_model`, n2v or n2n). Defaults to
            `"clean"`.
        binarize: bool, train on fresh Bernoulli samples of the images (binarized MNIST).
            Defaults to `False`.
        grey_fraction: float in [0, 1], the fraction of training images turned grey, with the
            same noise in every channel (RGB models for grey photos). Defaults to `0.0`.
        synthetic_fraction: float in [0, 1], the fraction of training batches that hold
            dead-leaves images (`tfvae.data.synthetic`, drawn afresh every step) instead of the
            dataset's, each batch as many pixels as a dataset batch; clean targets only.
            Defaults to `0.0`.
        synthetic_size: int, the height and width of the dead-leaves images (a multiple of the
            model's size multiple). Defaults to `128`.
        train_size: int or None, train on the first N training images only. Defaults to `None`.
        validation_size: int, the validation slice held out of the train images. Defaults to
            `5000`.
        data_dir: str or None, a folder searched first for the dataset. Defaults to `None`.
        likelihood: str or None, a setting of a VAE's objective (each is described in
            `tfvae.models.Objective`; a model without an objective refuses them). Defaults to
            `None`: the `Objective` default, as are the next seven.
        sigma_x: float or None, an objective setting. Defaults to `None`.
        beta: float or None, an objective setting. Defaults to `None`.
        kl_warmup_steps: int or None, an objective setting. Defaults to `None`.
        free_bits: float or None, an objective setting. Defaults to `None`.
        iw_samples: int or None, an objective setting. Defaults to `None`.
        noise_model: str or None, an objective setting. Defaults to `None`.
        decoder_variance: bool or None, an objective setting. Defaults to `None`.
        optimizer: str, `"adam"` or `"adamax"`. Defaults to `"adam"`.
        learning_rate: float, the optimizer's learning rate. Defaults to `1e-3`.
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
        seed: int, fixes the data order, the noise and the initialisation. Defaults to `0`.
        strategy: str, `"default"`, `"mirrored"`, `"multiworker"` (the cluster in TF_CONFIG) or
            `"tpu"`. Defaults to `"default"`.
        devices: str or None, mirrored: comma-separated device names. Defaults to `None` (all
            GPUs).
        deterministic: bool, TensorFlow op determinism: bit-identical reruns on GPUs too (CPU
            runs are already). Defaults to `False`.
        init_from: str or None, start from the weights of this finished run or `.keras` file
            (the same architecture; loss settings may differ; conv-spatial may add residual
            blocks, which start as the identity, or change their dilation; the noise-level input
            may be added, its channel starting at zero; a fresh optimizer). Defaults to `None`.
        out: str, the run folder. Defaults to `"runs/default"`.

    Raises:
        ValueError: if a field is not one of its choices or out of range, a hyperparameter or
            objective setting is not the model's, or fields conflict (e.g. noisy targets with
            added noise, a noise model without noisy targets).

    Examples:
        >>> from tfvae.training import TrainConfig
        >>> config = TrainConfig(model="vae", arch="conv-spatial", latent_dim=8, beta=0.5, out="runs/mnist")
        >>> config.to_dict()["model"], config.to_dict()["objective"]
        ({'name': 'vae', 'arch': 'conv-spatial', 'latent_dim': 8}, {'beta': 0.5})
        >>> TrainConfig.from_dict(config.to_dict()) == config
        True
        >>> TrainConfig(model="pca", arch="conv")
        Traceback (most recent call last):
        ...
        ValueError: Expected only the hyperparameters of model='pca' (latent_dim). Received: arch='conv'.
    """

    # === model ===
    model: str = _field("model", "vae", " | ".join(f"{name} ({spec.summary})" for name, spec in MODELS.items()))
    arch: str | None = _hyperparameter("arch")
    width: int | None = _hyperparameter("width")
    latent_dim: int | None = _hyperparameter("latent_dim")
    latent_stride: int | None = _hyperparameter("latent_stride")
    residual_blocks: int | None = _hyperparameter("residual_blocks")
    dilation_growth: int | None = _hyperparameter("dilation_growth")
    levels: int | None = _hyperparameter("levels")
    conv_layers: int | None = _hyperparameter("conv_layers")
    gated: bool | None = _hyperparameter("gated")
    learned_prior: bool | None = _hyperparameter("learned_prior")
    skip_connections: bool | None = _hyperparameter("skip_connections")
    pixelcnn_layers: int | None = _hyperparameter("pixelcnn_layers")
    noise_level_input: bool | None = _hyperparameter("noise_level_input")
    # === data ===
    dataset: str = _field("data", "mnist", "mnist | fashion_mnist | cifar10 | PATH | a+b")
    noise: str = _field(
        "data", "gaussian:0-0.5", "training noise spec ('none': plain autoencoder, or images already noisy)"
    )
    targets: str = _field(
        "data",
        "clean",
        "clean | noisy: the dataset's images are noisy and the only targets (no clean image; --noise none; "
        "a vae with a --noise-model, n2v or n2n; e.g. on a `tfvae data noisy-copy`)",
    )
    binarize: bool = _field("data", False, "train on fresh Bernoulli samples of the images (binarized MNIST)")
    grey_fraction: float = _field(
        "data",
        0.0,
        "fraction of training images turned grey, the same noise in every channel (RGB models for grey photos)",
    )
    synthetic_fraction: float = _field(
        "data",
        0.0,
        "fraction of training batches that are dead-leaves images drawn afresh (tfvae.data.synthetic), "
        "each as many pixels as a dataset batch: training beyond the dataset's image size",
    )
    synthetic_size: int = _field("data", 128, "height and width of the dead-leaves images")
    train_size: int | None = _field("data", None, "use only the first N training images")
    validation_size: int = _field("data", sources.DEFAULT_VALIDATION_SIZE, "validation slice of train")
    data_dir: str | None = _field("data", None, "folder searched first for the dataset")
    # === objective ===
    likelihood: str | None = _setting("likelihood")
    sigma_x: float | None = _setting("sigma_x")
    beta: float | None = _setting("beta")
    kl_warmup_steps: int | None = _setting("kl_warmup_steps")
    free_bits: float | None = _setting("free_bits")
    iw_samples: int | None = _setting("iw_samples")
    noise_model: str | None = _setting("noise_model")
    decoder_variance: bool | None = _setting("decoder_variance")
    # === optimizer ===
    optimizer: str = _field("optimizer", "adam", "adam | adamax (the infinity-norm Adam that HDN trains with)")
    learning_rate: float = _field("optimizer", 1e-3, "the optimizer's learning rate")
    lr_schedule: str = _field("optimizer", "constant", "constant | cosine (decays to 0 over epochs x steps per epoch)")
    ema: float = _field(
        "optimizer", 0.0, "momentum of an exponential moving average of the weights, used at the end (0: off)"
    )
    # === run ===
    dtype_policy: str = _field(
        "run",
        "auto",
        "auto | float32 | mixed_bfloat16 (layers compute in bfloat16, weights, losses and outputs stay float32); "
        "auto: bfloat16 where the hardware computes it natively (AVX512-BF16 / AMX CPUs, GPUs from compute 8.0)",
    )
    batch_size: int = _field("run", 128, "images per step (the global batch under a --strategy)")
    epochs: int = _field(
        "run", 10, "epochs of --steps-per-epoch steps (unset: an epoch is one pass over the training images)"
    )
    steps_per_epoch: int | None = _field("run", None, "cap steps per epoch")
    time_budget: float | None = _field("run", None, "wall-clock seconds of training")
    steps_per_execution: int = _field(
        "run",
        8,
        "train steps per tf.function call, at most (a divisor of the epoch's steps; 1 under a --strategy: "
        "Keras 3.15's fit fails with more)",
    )
    xla: str = _field(
        "run", "auto", "auto | on | off: XLA jit_compile (auto: the model's choice, on for mlp, off for convolutions)"
    )
    seed: int = _field("run", 0, "fixes data order, noise and initialisation")
    strategy: str = _field(
        "run", "default", "default | mirrored | multiworker (TF_CONFIG) | tpu; --batch-size is global"
    )
    devices: str | None = _field("run", None, "mirrored: comma-separated devices (default: all GPUs)")
    deterministic: bool = _field(
        "run", False, "TF op determinism: bit-identical reruns on GPUs too (CPU runs already are)"
    )
    init_from: str | None = _field(
        "run",
        None,
        "start from the weights of this finished run or .keras file (same architecture; loss settings may differ; "
        "conv-spatial may add --residual-blocks, which start as the identity, or change --dilation-growth; "
        "--noise-level-input may be added, its channel starting at zero; fresh optimizer)",
    )
    out: str = _field("run", "runs/default", "run folder")

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Expected model in {list(MODELS)}. Received: model={self.model!r}.")
        spec = self.spec
        parse_noise(self.noise)
        self._check_targets()
        spec.check(self.hyperparameters())
        settings = {name: getattr(self, name) for name in OBJECTIVE_SETTINGS if getattr(self, name) is not None}
        if settings and not spec.takes_objective:
            raise ValueError(
                f"Expected no objective settings for model={self.model!r} (only a VAE has one). "
                f"Received: {', '.join(f'{name}={value!r}' for name, value in settings.items())}."
            )
        self.objective()  # an invalid objective fails here
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Expected strategy in {sorted(STRATEGIES)}. Received: strategy={self.strategy!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Expected optimizer in {sorted(OPTIMIZERS)}. Received: optimizer={self.optimizer!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"Expected lr_schedule in {LR_SCHEDULES}. Received: lr_schedule={self.lr_schedule!r}.")
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(
                f"Expected dtype_policy in {DTYPE_POLICIES}. Received: dtype_policy={self.dtype_policy!r}."
            )
        if spec.closed_form is not None and self.dtype_policy == "mixed_bfloat16":
            raise ValueError(
                f"Expected dtype_policy auto or float32 for model={self.model!r} (fitted in closed form). "
                "Received: mixed_bfloat16."
            )
        if not 0 <= self.grey_fraction <= 1:
            raise ValueError(f"Expected 0 <= grey_fraction <= 1. Received: grey_fraction={self.grey_fraction!r}.")
        if not 0 <= self.synthetic_fraction <= 1:
            raise ValueError(
                f"Expected 0 <= synthetic_fraction <= 1. Received: synthetic_fraction={self.synthetic_fraction!r}."
            )
        if not 0 <= self.ema < 1:
            raise ValueError(f"Expected 0 <= ema < 1 (0: off). Received: ema={self.ema!r}.")
        if self.xla not in XLA_CHOICES:
            raise ValueError(f"Expected xla in {sorted(XLA_CHOICES)}. Received: xla={self.xla!r}.")
        positive = ("learning_rate", "batch_size", "epochs", "steps_per_execution", "validation_size", "synthetic_size")
        for name in positive:
            _check_positive(name, getattr(self, name))
        for name in ("time_budget", "steps_per_epoch", "train_size"):
            if getattr(self, name) is not None:
                _check_positive(name, getattr(self, name))

    def _check_targets(self):
        """Noisy targets: a model that learns from them (a VAE with a noise model, n2v, n2n) and no added
        noise; a noise model only there."""
        spec = self.spec
        if self.targets not in TARGETS:
            raise ValueError(f"Expected targets in {TARGETS}. Received: targets={self.targets!r}.")
        learners = [name for name, other in MODELS.items() if "noisy" in other.targets]
        if self.noise_model is not None and (self.targets == "clean" or not spec.takes_objective):
            raise ValueError(
                "Expected a noise model only for a vae with --targets noisy (clean targets have their own likelihood). "
                f"Received: model={self.model!r}, targets={self.targets!r}, noise_model={self.noise_model!r}."
            )
        if self.targets not in spec.targets:
            raise ValueError(
                f"Expected --targets {' | '.join(spec.targets)} for model={self.model!r} (noisy images alone are "
                f"learnt by {', '.join(learners)}). Received: targets={self.targets!r}."
            )
        if self.targets == "noisy" and spec.takes_objective and self.noise_model is None:
            raise ValueError(
                f"Expected a --noise-model (e.g. gaussian:auto) for model={self.model!r} with --targets noisy: the "
                "decoder outputs the signal and the noise model scores the noisy image. Received: noise_model=None."
            )
        if self.targets == "clean":
            return
        if parse_noise(self.noise).spec != "none":
            raise ValueError(
                "Expected --noise none with --targets noisy: the images are noisy already, and noise added "
                f"afresh every epoch would be a hidden form of supervision. Received: noise={self.noise!r}."
            )
        if self.synthetic_fraction:
            raise ValueError(
                "Expected synthetic_fraction 0 with --targets noisy: dead-leaves images are clean, and training on "
                f"them would be a hidden form of supervision. Received: synthetic_fraction={self.synthetic_fraction}."
            )
        if self.noise_model is not None:
            parse_noise_model(self.noise_model)

    @property
    def spec(self):
        """The registry's declaration of the model (`tfvae.models.registry.ModelSpec`).

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(model="hvae").spec.takes_objective
            True
        """
        return MODELS[self.model]

    def hyperparameters(self) -> dict:
        """The model hyperparameters the config sets.

        Returns:
            A dict of the hyperparameters given explicitly (not None); the model's defaults
                fill the rest.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(model="dncnn", conv_layers=10, width=32).hyperparameters()
            {'width': 32, 'conv_layers': 10}
        """
        return {name: getattr(self, name) for name in HYPERPARAMETERS if getattr(self, name) is not None}

    def objective(self) -> Objective | None:
        """The VAE objective the config sets, or None for a model without one.

        Returns:
            An `Objective` of the settings given (its defaults fill the rest), or None.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> TrainConfig(model="vae", sigma_x=0.01).objective().sigma_x
            0.01
        """
        if not self.spec.takes_objective:
            return None
        return Objective(
            **{name: getattr(self, name) for name in OBJECTIVE_SETTINGS if getattr(self, name) is not None}
        )

    def to_dict(self) -> dict:
        """The config as nested data: `data`, `model`, `objective`, `optimizer`, `run`.

        Returns:
            A dict of dicts (JSON-ready); `model` and `objective` hold only what is set (the
                rest are the model's defaults), `model["name"]` is the model.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> nested = TrainConfig(model="dncnn", conv_layers=10).to_dict()
            >>> nested["model"]
            {'name': 'dncnn', 'conv_layers': 10}
            >>> nested["optimizer"]
            {'optimizer': 'adam', 'learning_rate': 0.001, 'lr_schedule': 'constant', 'ema': 0.0}
        """
        nested = {section: {} for section in SECTIONS}
        nested["model"]["name"] = self.model
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            section = field.metadata["section"]
            if field.name != "model" and (value is not None or section not in ("model", "objective")):
                nested[section][field.name] = value
        return nested

    @classmethod
    def from_dict(cls, nested: dict, **overrides) -> "TrainConfig":
        """The config of nested data (`to_dict`'s form; a flat dict of fields is read too).

        Args:
            nested: dict, `{"data": {...}, "model": {"name": ..., ...}, ...}`, or the fields
                by name (a run folder written by an earlier tfvae).
            **overrides: fields to set on top, e.g. from command-line flags.

        Returns:
            The `TrainConfig`.

        Raises:
            ValueError: if a section or field is unknown, or the config is invalid.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> nested = {"model": {"name": "dncnn", "conv_layers": 10}, "run": {"epochs": 3}}
            >>> TrainConfig.from_dict(nested, epochs=5).epochs
            5
        """
        names = {field.name for field in dataclasses.fields(cls)}
        if set(nested) <= set(SECTIONS):
            unknown = []
            fields = {}
            for section, values in nested.items():
                values = dict(values)
                if section == "model" and "name" in values:
                    fields["model"] = values.pop("name")
                own = {f.name for f in dataclasses.fields(cls) if f.metadata["section"] == section} - {"model"}
                unknown += [f"{section}.{name}" for name in values if name not in own]
                fields.update(values)
        else:
            unknown = sorted(set(nested) - names)
            fields = dict(nested)
        if unknown:
            raise ValueError(
                f"Expected the sections {SECTIONS} with their fields (see `tfvae train --help`). "
                f"Received unknown: {', '.join(unknown)}."
            )
        return cls(**{**fields, **overrides})

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

    def make_optimizer(self, steps_per_epoch: int) -> keras.optimizers.Optimizer:
        """Makes the run's optimizer: Adam or Adamax with the configured learning-rate schedule and averaging.

        Args:
            steps_per_epoch: int, steps per epoch (a cosine schedule decays over all the steps).

        Returns:
            A `keras.optimizers.Adam` or `Adamax`, keeping an exponential moving average of the
                weights when `ema` > 0.

        Examples:
            >>> from tfvae.training import TrainConfig
            >>> optimizer = TrainConfig(lr_schedule="cosine", ema=0.99).make_optimizer(steps_per_epoch=100)
            >>> type(optimizer).__name__, optimizer.use_ema
            ('Adam', True)
        """
        rate = self.learning_rate
        if self.lr_schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=self.epochs * steps_per_epoch)
        return OPTIMIZERS[self.optimizer](rate, use_ema=self.ema > 0, ema_momentum=self.ema or 0.99)


def _check_positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}.")
