"""Noise families as pure, seeded TensorFlow functions on image batches, and their spec strings.

    noise = parse_noise("gaussian:0-0.5")        # sigma ~ U[0, 0.5], drawn per image
    noisy = noise(clean, seed=tf.constant([1, 2]))  # stateless: same seed, same noise

Specs: `FAMILY`, `FAMILY:LEVEL` or `FAMILY:LOW-HIGH` (a level drawn per image), `none`, and
`mix:SPEC,SPEC,...` (each image draws one of the specs). Every output is clipped to [0, 1].
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

from tfvae.data.images import check_images


def _per_pixel_uniform(images, seed):
    """One uniform draw per pixel location, shared by its channels: shape (N, H, W, 1)."""
    shape = tf.concat([tf.shape(images)[:3], [1]], axis=0)
    return tf.random.stateless_uniform(shape, seed)


def gaussian(images, sigma, seed):
    """Additive white Gaussian noise of standard deviation `sigma`, per pixel and channel."""
    return images + sigma * tf.random.stateless_normal(tf.shape(images), seed)


def salt_pepper(images, amount, seed):
    """A fraction `amount` of pixels set to white (half of them) or black (the other half)."""
    draw = _per_pixel_uniform(images, seed)
    salted = tf.where(draw < amount / 2, 1.0, images)
    return tf.where((draw >= amount / 2) & (draw < amount), 0.0, salted)


def poisson(images, peak, seed):
    """Shot noise: photon counts ~ Poisson(peak * x), divided by `peak` (smaller peak, more noise)."""
    return tf.random.stateless_poisson(tf.shape(images), seed, lam=images * peak, dtype=images.dtype) / peak


def speckle(images, sigma, seed):
    """Multiplicative noise x * (1 + sigma * N(0, 1))."""
    return images * (1.0 + sigma * tf.random.stateless_normal(tf.shape(images), seed))


def masking(images, fraction, seed):
    """A fraction `fraction` of pixels dropped to black."""
    return tf.where(_per_pixel_uniform(images, seed) < fraction, 0.0, images)


def block(images, size, seed):
    """One black square per image, its side `size` times the image side, at a random place."""
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    side = tf.round(size * tf.minimum(height, width))
    corner = tf.random.stateless_uniform(tf.stack([shape[0], 1, 1, 2]), seed)
    top = tf.floor(corner[..., :1] * (height - side + 1))
    left = tf.floor(corner[..., 1:] * (width - side + 1))
    rows = tf.reshape(tf.range(height), [1, -1, 1, 1])
    cols = tf.reshape(tf.range(width), [1, 1, -1, 1])
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    return tf.where(inside, 0.0, images)


def identity(images, level, seed):
    """No noise (a plain autoencoder's input)."""
    del level, seed
    return images


@dataclasses.dataclass(frozen=True)
class Family:
    apply: object
    default: float
    minimum: float
    maximum: float
    level_name: str


FAMILIES = {
    "none": Family(identity, 0.0, 0.0, 0.0, "-"),
    "gaussian": Family(gaussian, 0.2, 0.0, np.inf, "SIGMA"),
    "salt_pepper": Family(salt_pepper, 0.1, 0.0, 1.0, "AMOUNT"),
    "poisson": Family(poisson, 30.0, 1e-3, np.inf, "PEAK"),
    "speckle": Family(speckle, 0.3, 0.0, np.inf, "SIGMA"),
    "masking": Family(masking, 0.5, 0.0, 1.0, "FRACTION"),
    "block": Family(block, 0.25, 0.0, 1.0, "SIDE"),
}
SPEC_HELP = (
    "noise specs: "
    + ", ".join(f"{name}[:{f.level_name}|LOW-HIGH]" if name != "none" else name for name, f in FAMILIES.items())
    + ", mix:SPEC,SPEC,... (e.g. gaussian:0.3, gaussian:0-0.5, mix:gaussian:0-0.5,salt_pepper:0-0.2)"
)
_LEVEL = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(?:-(\d+(?:\.\d*)?|\.\d+))?$")


@dataclasses.dataclass(frozen=True)
class Noise:
    """One family with its level drawn per image from U[low, high]."""

    family: str
    low: float
    high: float

    @property
    def spec(self):
        if self.family == "none":
            return "none"
        return f"{self.family}:{self.low:g}" + (f"-{self.high:g}" if self.high != self.low else "")

    def __call__(self, images, seed):
        """Noisy copy of a float32 batch; `seed` is a shape-(2,) integer tensor (stateless RNG)."""
        level_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        level_shape = tf.stack([tf.shape(images)[0], 1, 1, 1])
        level = tf.random.stateless_uniform(level_shape, level_seed, self.low, self.high)
        noisy = FAMILIES[self.family].apply(images, level, noise_seed)
        return tf.clip_by_value(noisy, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Each image draws one of `components` uniformly."""

    components: tuple

    @property
    def spec(self):
        return "mix:" + ",".join(c.spec for c in self.components)

    def __call__(self, images, seed):
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, len(self.components) + 1))
        choice = tf.random.stateless_uniform(tf.shape(images)[:1], seeds[0], 0, len(self.components), dtype=tf.int32)
        candidates = tf.stack([c(images, s) for c, s in zip(self.components, seeds[1:])])
        chosen = tf.one_hot(choice, len(self.components), axis=0)[..., None, None, None]
        return tf.reduce_sum(candidates * chosen, axis=0)


def _parse_family(spec):
    name, _, level = spec.partition(":")
    if name not in FAMILIES:
        raise ValueError(f"Unknown noise family {name!r} in {spec!r}. Valid {SPEC_HELP}.")
    family = FAMILIES[name]
    if not level:
        return Noise(name, family.default, family.default)
    match = _LEVEL.match(level)
    if name == "none" or not match:
        raise ValueError(
            f"Expected the level of {spec!r} to be a non-negative number or a range LOW-HIGH. "
            f"Received: {level!r}. Valid {SPEC_HELP}."
        )
    low = float(match.group(1))
    high = float(match.group(2) or low)
    if not family.minimum <= low <= high <= family.maximum:
        raise ValueError(
            f"Expected {name} {family.level_name} in [{family.minimum:g}, {family.maximum:g}] with LOW <= HIGH. "
            f"Received: {level!r}."
        )
    return Noise(name, low, high)


def parse_noise(spec: str | Noise | Mixture) -> Noise | Mixture:
    """Parses a noise spec string into the noise it names.

    Specs: `FAMILY` (its default level), `FAMILY:LEVEL`, `FAMILY:LOW-HIGH` (a level drawn per
    image from U[LOW, HIGH]), `none`, and `mix:SPEC,SPEC,...` (each image draws one of the
    specs). The families and their levels: `gaussian:SIGMA`, `salt_pepper:AMOUNT`,
    `poisson:PEAK`, `speckle:SIGMA`, `masking:FRACTION` and `block:SIDE` (`SPEC_HELP` lists
    them). The noise is a function `noise(images, seed)` of a float32 batch and a shape-(2,)
    integer seed tensor (stateless: the same seed gives the same noise), clipped to [0, 1].

    Args:
        spec: str, `Noise` or `Mixture`, the spec (case and surrounding spaces ignored); a
            `Noise` or `Mixture` is returned as it is.

    Returns:
        A `Noise` (one family, with `family`, `low`, `high` and `spec`) or a `Mixture`.

    Raises:
        ValueError: if the spec is not a string, names an unknown family, or gives a level
            that is not a number or a range `LOW-HIGH` within the family's bounds.

    Examples:
        >>> import tensorflow as tf
        >>> from tfvae.data import parse_noise
        >>> noise = parse_noise("gaussian:0-0.5")
        >>> noise.family, noise.low, noise.high
        ('gaussian', 0.0, 0.5)
        >>> noisy = noise(tf.fill((2, 8, 8, 1), 0.5), seed=tf.constant([1, 2]))
        >>> tuple(noisy.shape)
        (2, 8, 8, 1)
        >>> parse_noise("mix:gaussian:0.1,salt_pepper").spec
        'mix:gaussian:0.1,salt_pepper:0.1'
        >>> parse_noise("blur:0.5")
        Traceback (most recent call last):
        ...
        ValueError: Unknown noise family 'blur' in 'blur:0.5'. Valid noise specs: ...
    """
    if isinstance(spec, (Noise, Mixture)):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"Expected a noise spec string. Received: {spec!r}. Valid {SPEC_HELP}.")
    spec = spec.strip().lower()
    if spec.startswith("mix:"):
        parts = [p for p in spec[len("mix:") :].split(",") if p]
        if not parts:
            raise ValueError(f"Expected at least one component in {spec!r}. Valid {SPEC_HELP}.")
        return Mixture(tuple(_parse_family(p) for p in parts))
    return _parse_family(spec)


def add_noise(images: np.ndarray, spec: str | Noise | Mixture, seed: int = 0) -> np.ndarray:
    """Returns a noisy copy of a batch of clean images; the same seed gives the same noise.

    Args:
        images: float32 array of shape `(N, H, W, C)`, values in [0, 1], the clean images.
        spec: str, `Noise` or `Mixture`, the noise, e.g. `"gaussian:0.2"`, `"gaussian:0-0.5"`
            (sigma drawn per image) or `"mix:gaussian:0-0.5,salt_pepper:0-0.2"`; see
            `parse_noise`.
        seed: int, fixes the noise (and each image's level). Defaults to `0`.

    Returns:
        A float32 NumPy array of the shape of `images`, values clipped to [0, 1].

    Raises:
        ValueError: if `images` break the image contract (`check_images`) or `spec` is not a
            valid noise spec.

    Examples:
        >>> import numpy as np
        >>> from tfvae.data import add_noise
        >>> clean = np.full((2, 8, 8, 1), 0.5, "float32")
        >>> noisy = add_noise(clean, "gaussian:0.2", seed=1)
        >>> noisy.shape, noisy.dtype
        ((2, 8, 8, 1), dtype('float32'))
        >>> bool(noisy.min() >= 0 and noisy.max() <= 1)
        True
        >>> bool((add_noise(clean, "gaussian:0.2", seed=1) == noisy).all())
        True
    """
    images = check_images(images)
    return parse_noise(spec)(tf.constant(images), tf.constant([seed, 0], tf.int64)).numpy()
